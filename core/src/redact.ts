/**
 * What Sloth may show of a secret-bearing value in logs, messages and error details: URLs with their
 * credentials, query values and (for webhooks) paths masked, and configuration values whose key names
 * a secret hidden. No dependencies inside core, so `errors.ts` and `redis-server.ts` can both use it.
 */
import type { ConfigProblem } from './errors.js';

/**
 * A URL as logs and messages may show it (a Redis, collector, remote-write or webhook URL): the user
 * name and password masked, every query value masked (`?api_key=***`), no fragment. With
 * `secretPath` (webhook URLs: Slack's carry the token in the path) only `scheme://host/…`.
 * Never throws: what does not parse as a URL is not shown at all.
 */
export function redactUrl(url: string, options: { readonly secretPath?: boolean } = {}): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return '<invalid url>';
  }
  if (options.secretPath === true) {
    const rest = (parsed.pathname !== '/' && parsed.pathname !== '') || parsed.search !== '' || parsed.hash !== '';
    return `${parsed.protocol}//${parsed.host}${rest ? '/…' : ''}`;
  }
  if (parsed.username !== '') parsed.username = '***';
  if (parsed.password !== '') parsed.password = '***';
  if (parsed.search !== '') {
    const masked = new URLSearchParams();
    for (const key of parsed.searchParams.keys()) masked.append(key, '***');
    parsed.search = masked.toString();
  }
  parsed.hash = '';
  return parsed.toString();
}

/** Keys whose values are secrets: a problem names the key and never shows the value. */
const secretKey = /token|secret|password|passphrase|authorization|headers|apikey|api_key|signing/i;

/** Keys whose values are URLs with a secret path (Slack's incoming webhooks carry the token there; a scaling actuator is a webhook): `scheme://host/…` only. */
const secretPathKey = /webhook|actuator/i;

/** A URL with an authority (`scheme://…`): the only kind whose user name and password `redactUrl` can find. */
const urlWithAuthority = /^[a-z][a-z0-9+.-]*:\/\//i;

/** A string as a problem shows it, or undefined when it is shown as it is (JSON). */
function shownString(text: string, key: string): string | undefined {
  const secretPath = secretPathKey.test(key);
  // A URL's user name, password and query values are secrets (redis://:PASSWORD@host, ?api_key=).
  const shown = urlWithAuthority.test(text) ? redactUrl(text, { secretPath }) : '<invalid url>';
  if (shown !== '<invalid url>') return shown;
  // A malformed webhook URL may still hold its token (not a plain word such as the actuator's `kind`).
  if (secretPath && text.includes('/')) return '(not shown: a webhook URL is a secret)';
  // Malformed, or without "//" ("user:pw@host" parses as a scheme and a path): it may still hold a password.
  if (text.includes('@')) return '(not shown: it holds an "@" and may carry a password)';
  return undefined;
}

/**
 * A mapping or list value (a whole `remoteWrite` entry or scaling target with an unknown key) with the
 * same rules applied at every level: its URLs, headers and secrets are what the problem would show.
 */
function redactedTree(value: unknown, key: string): unknown {
  if (typeof value === 'string') return shownString(value, key) ?? value;
  if (Array.isArray(value)) return value.map((item) => redactedTree(item, key));
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, secretKey.test(k) ? '(secret, not shown)' : redactedTree(v, `${key}.${k}`)]));
  }
  return value;
}

/** A value as a problem shows it: secrets hidden, URLs through `redactUrl`, long values cut. */
export function shownProblemValue(problem: Pick<ConfigProblem, 'key' | 'value'>): string | undefined {
  if (problem.value === undefined) return undefined;
  if (secretKey.test(problem.key)) return '(secret, not shown)';
  if (typeof problem.value === 'string') {
    const shown = shownString(problem.value, problem.key);
    if (shown !== undefined) return shown.startsWith('(not shown') ? shown : JSON.stringify(shown);
  }
  // JSON.stringify gives undefined for a function or a symbol only; neither comes from YAML, the environment or a flag.
  const text = JSON.stringify(redactedTree(problem.value, problem.key)) ?? typeof problem.value;
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}
