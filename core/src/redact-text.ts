/**
 * Secrets inside free text (what a command printed, an error message) masked as `***` with their key
 * kept (`password=***`, `Authorization: Bearer ***`), so the text stays readable. Hostile input costs
 * linear time: each regular expression here is either bounded in length or starts only where a
 * lookbehind lets it (not inside a run of the characters it matches) and cannot match the same text
 * two ways; what one could only find by backtracking (a quote's end, the body lines above a key's END
 * line, a value's trailing punctuation) is found by scanning indexes.
 */
import { redactUrl } from './redact.js';

const mask = '***';

/** Known secrets shorter than this are not masked: they would hide ordinary words (Sloth's tokens have at least 8 characters). */
const minKnownSecretChars = 8;
/**
 * The floor for values {@link jsonSecrets} took from secret-named params (`hunter2`, a PIN `1234`): masked
 * from 4 characters, as whole words only; 1 to 3 characters stay shown, or every `ok` and `42` would go.
 */
const minParamSecretChars = 4;
/**
 * How each `paramSecrets` list masks, built on its first use: a run masks every log record with the same
 * list, so the encoded forms and the short values' expression are built once per run, not per record.
 */
const paramSecretPlans = new WeakMap<readonly string[], KnownSecretsPlan>();

interface KnownSecretsPlan {
  /** Forms of the secrets of 8 characters or more, longest first. */
  readonly forms: readonly string[];
  /** The shorter values, as whole words. */
  readonly words: RegExp | undefined;
}

/**
 * Values that say how something went, not what a secret is: `Password: incorrect`, `auth: ok`, `Session: started`
 * keep them (as do known secrets of fewer than 8 characters that are one of them).
 */
const statusWords = new Set([
  'ok', 'okay', 'success', 'successful', 'succeeded', 'fail', 'failed', 'failure', 'error', 'incorrect', 'invalid', 'valid', 'expired', 'missing',
  'required', 'none', 'null', 'true', 'false', 'yes', 'no', 'on', 'off', 'set', 'unset', 'started', 'ended', 'stopped', 'enabled', 'disabled',
  'accepted', 'rejected', 'denied', 'granted', 'changed', 'updated', 'reset', 'empty', 'redacted', 'unknown',
]);

export interface RedactTextOptions {
  /**
   * Exact strings masked wherever they occur (Sloth's configured tokens, webhook URLs and secrets), also
   * URL-encoded, base64 and hex; shorter than 8 characters, or undefined: ignored.
   */
  readonly knownSecrets?: Iterable<string | undefined>;
  /**
   * Secret values of a run's own params ({@link jsonSecrets}): masked as `knownSecrets` are, and those of 4 to 7
   * characters too, as whole words (a password `hunter2`, a PIN `1234`).
   */
  readonly paramSecrets?: readonly string[];
}

/**
 * `text` with the secrets it holds replaced by `***`: the known secrets given, private-key blocks,
 * URL credentials and query values (webhook URLs down to `scheme://host/…`, as {@link redactUrl}
 * shows them), token shapes (AWS key ids, GitHub, GitLab, Slack, Stripe and Google tokens, JWTs),
 * `Bearer`/`Basic` credentials, and the values of keys that name a secret (`password=`, `"apiKey":`,
 * `X-Auth-Token:`, `--token X`, a `Cookie:` header). Idempotent; never throws.
 */
export function redactText(text: string, options: RedactTextOptions = {}): string {
  let shown = maskKnownSecrets(text, knownSecretsPlan(options.knownSecrets ?? [], minKnownSecretChars));
  if (options.paramSecrets !== undefined) shown = maskKnownSecrets(shown, paramSecretsPlan(options.paramSecrets));
  shown = maskPrivateKeys(shown);
  shown = shown.replace(urlPattern, maskUrl);
  shown = shown.replace(tokenShape, mask);
  shown = shown.replace(authCredential, (whole: string, scheme: string, space: string, credential: string, offset: number, all: string) =>
    looksLikeCredential(credential, all, offset + whole.length) ? `${scheme}${space}${mask}` : whole,
  );
  return maskSecretPairs(shown);
}

function paramSecretsPlan(secrets: readonly string[]): KnownSecretsPlan {
  let plan = paramSecretPlans.get(secrets);
  if (plan === undefined) {
    plan = knownSecretsPlan(secrets, minParamSecretChars);
    paramSecretPlans.set(secrets, plan);
  }
  return plan;
}

function maskKnownSecrets(text: string, plan: KnownSecretsPlan): string {
  // Longest first: a secret that holds another is masked whole.
  let shown = text;
  for (const form of plan.forms) if (shown.includes(form)) shown = shown.split(form).join(mask);
  return plan.words === undefined ? shown : shown.replace(plan.words, mask);
}

function knownSecretsPlan(secrets: Iterable<string | undefined>, floor: number): KnownSecretsPlan {
  const forms = new Set<string>();
  const words: string[] = [];
  for (const secret of secrets) {
    if (secret === undefined || secret.length < floor) continue;
    if (secret.length >= minKnownSecretChars) for (const form of encodedForms(secret)) forms.add(form);
    else if (!statusWords.has(secret.toLowerCase())) words.push(secret.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
  }
  return {
    forms: [...forms].sort((a, b) => b.length - a.length),
    // A short value is masked as a word only: `1234` in `pin 1234`, not in `took 12345ms`.
    words: words.length === 0 ? undefined : new RegExp(`(?<![A-Za-z0-9_])(?:${words.join('|')})(?![A-Za-z0-9_])`, 'g'),
  };
}

/** Forms of a known secret of 8 characters or more: as written, URL-encoded (a query), base64 (padded, unpadded, URL-safe) and hex. */
function encodedForms(secret: string): string[] {
  const forms = [secret];
  try {
    forms.push(encodeURIComponent(secret));
  } catch {
    // A lone surrogate has no URL form.
  }
  const bytes = Buffer.from(secret, 'utf8');
  const base64 = bytes.toString('base64');
  const hex = bytes.toString('hex');
  forms.push(base64, base64.replace(/=+$/, ''), bytes.toString('base64url'), hex, hex.toUpperCase());
  return forms;
}

const pemMarker = /-----(BEGIN|END) [A-Z0-9 ]{0,64}PRIVATE KEY(?: BLOCK)?-----/g;
/** A line of a key's base64 body; `…` starts the first when the output's start was cut off. */
const keyBodyLine = /^[ \t]*…?[A-Za-z0-9+/=]+[ \t]*\r?$/;

/** PEM private-key blocks with their body masked; a block whose END was cut off masked to the end, one whose BEGIN was, its body lines above END. */
function maskPrivateKeys(text: string): string {
  let shown = '';
  let done = 0;
  let open = false;
  for (const marker of text.matchAll(pemMarker)) {
    const start = marker.index;
    const end = start + marker[0].length;
    if (marker[1] === 'BEGIN') {
      if (open) continue; // inside a block: part of what is masked
      shown += text.slice(done, end);
      open = true;
    } else if (open) {
      shown += `\n${mask}\n${marker[0]}`;
      open = false;
    } else {
      const lineStart = Math.max(done, text.lastIndexOf('\n', start - 1) + 1);
      let bodyStart = lineStart;
      while (bodyStart > done) {
        const previous = text.lastIndexOf('\n', bodyStart - 2) + 1;
        if (previous < done || !keyBodyLine.test(text.slice(previous, bodyStart - 1))) break;
        bodyStart = previous;
      }
      shown += `${text.slice(done, bodyStart)}${bodyStart < lineStart ? `${mask}\n` : ''}${text.slice(lineStart, end)}`;
    }
    done = end;
  }
  if (open) return `${shown}\n${mask}`;
  return shown + text.slice(done);
}

/**
 * A URL with an authority; it ends at white space, a quote or an angle bracket. Its scheme is at most
 * 32 characters with no two separators in a row, so `KEY-----https://` (a PEM line run into a URL) is not one.
 */
const urlPattern = /(?<![A-Za-z0-9+.])[A-Za-z](?:[A-Za-z0-9]|[+.-](?=[A-Za-z0-9])){0,31}:\/\/[^\s"'`<>\\]+/g;
/** Host and path of a webhook URL, whose path is its token (Slack, Discord, Teams, most CI hooks, Telegram's bot API). */
const webhookPattern = /(?:^|[./])(?:web)?hooks?(?:[./]|$)|webhook|^api\.telegram\.org\/bot/i;
/** A Telegram bot token in a bot API path (`/bot123456:AAH…/sendMessage`). */
const telegramBotPath = /^\/bot([^/]+)/;
const trailingPunctuation = '.,;:!?)]}';

function maskUrl(found: string): string {
  // Punctuation after a URL in prose is not part of it.
  let end = found.length;
  while (end > 0 && trailingPunctuation.includes(found.charAt(end - 1))) end -= 1;
  const url = found.slice(0, end);
  const after = found.slice(end);
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    // Unparsable, but it may still hold a password or a query: only its scheme is shown then.
    return /[@?#]/.test(url) ? `${url.slice(0, url.indexOf('://') + 3)}${mask}${after}` : found;
  }
  const webhook = webhookPattern.test(`${parsed.hostname}${parsed.pathname}`);
  if (webhook && (parsed.pathname.length > 1 || parsed.search !== '' || parsed.hash !== '' || parsed.username !== '')) return `${redactUrl(url, { secretPath: true })}${after}`;
  // A URL with nothing to hide keeps its text as written (redactUrl would normalise it).
  if (parsed.username === '' && parsed.password === '' && parsed.search === '' && parsed.hash === '' && !url.includes('?')) return found;
  return `${redactUrl(url)}${after}`;
}

/**
 * Shapes of well-known tokens: AWS access key ids, GitHub (`ghp_`, `gho_`, …, `github_pat_`), Slack
 * (`xoxb-`, …, `xapp-`), GitLab (`glpat-`), Stripe live keys, Google API keys, JWTs, and Telegram bot tokens.
 */
const tokenShape =
  /(?<![\w-])(?:A(?:KI|SI)A[A-Z0-9]{16}(?![A-Za-z0-9])|gh[pousr]_[A-Za-z0-9]{30,}|github_pat_\w{20,}|xox[abposr]-[A-Za-z0-9-]{10,}|xapp-[A-Za-z0-9-]{10,}|glpat-[\w-]{20,}|[sr]k_live_[A-Za-z0-9]{16,}|AIza[\w-]{35}|eyJ[\w-]{2,}\.eyJ[\w-]{2,}\.[\w-]*|\d{6,12}:[\w-]{33,})/g;

/** A `Bearer` or `Basic` credential anywhere (`curl -H 'Bearer …'`), if it {@link looksLikeCredential}. */
const authCredential = /(?<![\w-])(Bearer|Basic)([ \t]+)([\w.~+/=-]{8,})/g;

/**
 * A credential has a digit, a symbol or a capital after its first letter (`dXNlcjpwYXNz`, `abc.def`);
 * a word does not (`Bearer authentication`), nor does the next key (`token_type=Bearer expires_in=3600`).
 */
function looksLikeCredential(credential: string, text: string, end: number): boolean {
  // `=` inside, not as base64 padding, or before a masked value (`Bearer x password=***`): a key and its value.
  if (/=[^=]/.test(credential) || text[end] === '*') return false;
  let next = end;
  while (text[next] === ' ' || text[next] === '\t') next += 1;
  if (text[next] === ':') return false;
  return /[\d.~+/=_-]/.test(credential) || /[A-Z]/.test(credential.slice(1));
}

/**
 * The start of a `key=value` pair: `key=`, `key: `, `"key": `, `\"key\":` (JSON in a JSON string),
 * `KEY := `, or `--key ` (a flag and its value). A key starts where no key or URL character precedes it.
 */
const pairStart = /(?<![\w.@/\\-])(-{0,2}[A-Za-z_][\w.-]*)(\\?["']?)([ \t]*(?::=|==?|:(?![:/]))[ \t]*|[ \t]+)/g;

/** Words of a key that name a secret: `DB_PASSWORD`, `X-Auth-Token`, `apiKey`, `SESSION`. */
const secretWords = new Set([
  'token', 'secret', 'secrets', 'password', 'passwords', 'passwd', 'pwd', 'passphrase', 'apikey', 'auth', 'authorization',
  'credential', 'credentials', 'privatekey', 'session', 'sessionid', 'cookie', 'cookies',
]);
/** Words that name a secret only with another word before them (`DB_PASS`, `MYSQL_PW`), not alone (`pass: 12`). */
const secondWords = new Set(['pass', 'pw']);
/** Ends of one-word keys that name a secret: `PGPASSWORD`, `githubtoken`, `oauth`. */
const secretEndings = ['token', 'secret', 'password', 'passwd', 'pwd', 'apikey', 'auth', 'sessionid', 'privatekey'];
/** Two words that name a secret together: `api_key`, `apiKeys`, `private-key`, `signingKey`, `access_key`, `passWord`. */
const secretPairs = new Set([
  'api key', 'api keys', 'private key', 'private keys', 'signing key', 'encryption key', 'master key', 'access key', 'access keys', 'secret key',
  'pass word', 'pass words', 'pass phrase',
]);
/** Last words that name secrets only in JSON, over strings (`tokens: ["…"]`): in text, and over numbers, `tokens: 3` is a count. */
const pluralSecretWords = new Set(['tokens']);
/** A last word that makes the value something about the secret, not the secret: `TOKEN_FILE`, `token_type`, `max_tokens`. */
const describingWords = new Set(['file', 'path', 'dir', 'url', 'uri', 'endpoint', 'type', 'kind', 'method', 'mode', 'count', 'length', 'size', 'ttl', 'expiry', 'expires', 'name', 'enabled']);
/** Keys that are the shell's working directories when their value is a path (`PWD=/srv/app`). */
const workingDirectoryKeys = new Set(['pwd', 'oldpwd']);
/** Keys whose value is the rest of the line: HTTP headers whose value may hold spaces and `;`. */
const headerWords = new Set(['authorization', 'cookie', 'cookies']);
/** Words before a credential that stay shown: `Authorization: Bearer ***`. */
const authSchemes = new Set(['bearer', 'basic', 'token', 'digest', 'negotiate', 'ntlm', 'bot', 'apikey']);

function keyWords(key: string): string[] {
  return key
    .replace(/^-+/, '')
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .toLowerCase()
    .split(/[ _.-]+/)
    .map((word) => word.replace(/[0-9]+$/, ''))
    .filter((word) => word !== '');
}

/** Whether a key names a secret, and whether its value runs to the end of the line (a header). */
function secretKey(key: string): { secret: boolean; header: boolean } {
  const no = { secret: false, header: false };
  if (key.length > 100) return no;
  const words = keyWords(key);
  const last = words[words.length - 1];
  if (last === undefined) return no;
  if (words.length > 1 && describingWords.has(last)) return no;
  // `pin` alone names a secret only last (`db_pin`, `PIN`), not in `pin_memory`.
  const secret = last === 'pin' || words.some(
    (word, i) =>
      secretWords.has(word) ||
      (i > 0 && secondWords.has(word)) ||
      (i > 0 && secretPairs.has(`${words[i - 1] ?? ''} ${word}`)) ||
      secretEndings.some((ending) => word.length > ending.length && word.endsWith(ending)),
  );
  return { secret, header: secret && headerWords.has(last) };
}

/** A value as shown: `***`, after its scheme word when it has one (`Bearer ***`). */
function maskedValue(value: string): string {
  const scheme = /^([A-Za-z][\w-]*)([ \t]+)\S/.exec(value);
  return scheme !== null && authSchemes.has((scheme[1] ?? '').toLowerCase()) ? `${scheme[1] ?? ''}${scheme[2] ?? ''}${mask}` : mask;
}

const isQuote = (c: string | undefined): boolean => c === '"' || c === "'" || c === '`';
const isSpace = (c: string | undefined): boolean => c !== undefined && /\s/.test(c);

const closers: Record<string, string> = { ')': '(', ']': '[', '}': '{' };

/** `end` before the `,` `;` and unopened brackets ending an unquoted value: `(password=***)`, `password=***, user=bob`. */
function withoutTrailingPunctuation(text: string, start: number, end: number): number {
  const value = text.slice(start, end);
  const open = new Map(Object.entries(closers).map(([closer, opener]) => [closer, value.split(opener).length - value.split(closer).length]));
  let cut = end;
  for (;;) {
    const c = text.charAt(cut - 1);
    const balance = open.get(c);
    if (cut - 1 <= start || !(c === ',' || c === ';' || (balance !== undefined && balance < 0))) return cut;
    if (balance !== undefined) open.set(c, balance + 1);
    cut -= 1;
  }
}

/** The value of a pair starting at `start`: where it is and how it is shown; undefined when there is none. */
function valueAt(
  text: string,
  start: number,
  options: { header: boolean; flag: boolean; closer: string | undefined; query: boolean },
): { start: number; end: number; shown: string } | undefined {
  const first = text[start];
  if (first === undefined || first === '\n' || first === '\r' || first === '{' || first === '[') return undefined;
  const escaped = first === '\\' && isQuote(text[start + 1]);
  if (isQuote(first) || escaped) {
    // Quoted: the quotes stay; unclosed (the line was cut), the rest of the line is the value.
    const quote = escaped ? `\\${text[start + 1] ?? ''}` : first;
    const from = start + quote.length;
    let end = from;
    while (end < text.length && text[end] !== '\n' && !text.startsWith(quote, end)) end += !escaped && text[end] === '\\' && text[end + 1] !== '\n' ? 2 : 1;
    end = Math.min(end, text.length);
    // A quoted key (`token: "apiKey": "x"`) is not this key's value: it has its own.
    let after = end + quote.length;
    while (text[after] === ' ' || text[after] === '\t') after += 1;
    if (text.startsWith(quote, end) && text[after] === ':') return undefined;
    return { start: from, end, shown: maskedValue(text.slice(from, end)) };
  }
  if (options.flag && first === '-') return undefined;
  let end = start;
  if (options.header) {
    // A header runs to the end of the line, or of the string it was quoted in.
    const { closer } = options;
    while (end < text.length && text[end] !== '\n' && text[end] !== '\r' && (closer === undefined || !text.startsWith(closer, end))) end += 1;
    while (end > start && (text[end - 1] === ' ' || text[end - 1] === '\t')) end -= 1;
  } else {
    const word = (from: number): number => {
      let to = from;
      while (to < text.length && !isSpace(text[to]) && !isQuote(text[to]) && !(text[to] === '\\' && isQuote(text[to + 1])) && !(options.query && (text[to] === '&' || text[to] === '#'))) to += 1;
      return to;
    };
    end = word(start);
    // `token: Bearer abc`: the credential after a scheme word is part of the value.
    if (authSchemes.has(text.slice(start, end).toLowerCase())) {
      let next = end;
      while (text[next] === ' ' || text[next] === '\t') next += 1;
      const after = word(next);
      if (after > next) end = after;
    }
    end = withoutTrailingPunctuation(text, start, end);
  }
  if (end === start) return undefined;
  return { start, end, shown: maskedValue(text.slice(start, end)) };
}

function maskSecretPairs(text: string): string {
  let shown = '';
  let done = 0;
  pairStart.lastIndex = 0;
  for (let match = pairStart.exec(text); match !== null; match = pairStart.exec(text)) {
    const [whole, key = '', , separator = ''] = match;
    const flag = key.startsWith('-');
    if (separator.trim() === '' && !flag) continue; // two words, not a pair
    const { secret, header } = secretKey(key);
    if (!secret) continue;
    // A header quoted whole (`-H "Authorization: Bearer x"`) ends where its string does.
    const before = text[match.index - 1];
    const closer = isQuote(before) ? `${text[match.index - 2] === '\\' ? '\\' : ''}${before ?? ''}` : undefined;
    const valueStart = match.index + whole.length;
    if (workingDirectoryKeys.has(key.toLowerCase()) && /^["']?[/~]/.test(text.slice(valueStart, valueStart + 2))) continue;
    // In a query string (`?token=x&page=2`) a value ends at the next parameter.
    const query = before === '?' || before === '&';
    const value = valueAt(text, valueStart, { header, flag, closer, query });
    if (value === undefined || statusWords.has(text.slice(value.start, value.end).replace(/[.!]+$/, '').toLowerCase())) continue;
    shown += text.slice(done, value.start) + value.shown;
    done = value.end;
    pairStart.lastIndex = value.end;
  }
  return shown + text.slice(done);
}

/** Keys whose URL values carry their secret in the path (Slack's incoming webhooks): shown as `scheme://host/…`. */
const secretPathKey = /hook|actuator/i;
const urlWithAuthority = /^[A-Za-z][A-Za-z0-9+.-]*:\/\/\S+$/;
/** Levels of a JSON value {@link redactJson} descends; deeper values are replaced whole. */
const maxDepth = 32;

/**
 * A JSON value (a playbook's parameters, the event that triggered it, what a run reported) with its
 * secrets masked: the value of every key that names a secret (`token`, `api_keys`, `passWord`, …) is `***`
 * whatever its type, as is `tokens` over strings and the `value` of a name/value pair whose name does
 * (`env: [{ name: 'DB_PASSWORD', value: … }]`, `{ key: 'API_TOKEN', value: … }`); a URL under a key that
 * names a hook (`webhook_url`, `slack_hook`) is `scheme://host/…`; every other string goes through
 * {@link redactText}. Keys, numbers and booleans stay. Idempotent; never throws; a result of JSON only
 * (no shared references, no cycles).
 */
export function redactJson(value: unknown, options: RedactTextOptions = {}): unknown {
  return redactTree(value, '', options, 0);
}

/** Whether `value` under `key` is a secret as a whole: the key names one, or the object is a name/value pair whose name does. */
function secretMember(key: string, value: unknown, parent: Record<string, unknown>): boolean {
  if (value === null || value === '') return false;
  if (secretKey(key).secret) return true;
  const words = keyWords(key);
  if (pluralSecretWords.has(words[words.length - 1] ?? '') && (typeof value === 'string' || (Array.isArray(value) && value.every((item) => typeof item === 'string')))) return true;
  if (key !== 'value') return false;
  const name = typeof parent.name === 'string' ? parent.name : parent.key;
  return typeof name === 'string' && secretKey(name).secret;
}

function redactTree(value: unknown, key: string, options: RedactTextOptions, depth: number): unknown {
  if (depth > maxDepth) return mask;
  if (typeof value === 'string') {
    if (secretPathKey.test(key) && urlWithAuthority.test(value.trim())) return redactUrl(value.trim(), { secretPath: true });
    return redactText(value, options);
  }
  if (Array.isArray(value)) return value.map((item) => redactTree(item, key, options, depth + 1));
  if (value !== null && typeof value === 'object') {
    const node = value as Record<string, unknown>;
    const shown: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(node)) shown[k] = secretMember(k, v, node) ? mask : redactTree(v, k, options, depth + 1);
    return shown;
  }
  return value;
}

function parseUrl(text: string): URL | undefined {
  if (!urlWithAuthority.test(text)) return undefined;
  try {
    return new URL(text);
  } catch {
    return undefined;
  }
}

function decoded(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

/**
 * The secret values of a JSON value, for `paramSecrets`: free text that quotes one (a playbook's log line,
 * its return message) is masked too, wherever the value appears. They are the values {@link redactJson}
 * masks whole (numbers as written), hook URLs and their paths, the token of a Telegram bot URL, URL
 * passwords, and token shapes (`ghp_…`, `AKIA…`) in any string. Nothing else: a URL's path and query,
 * or a string that merely holds `password=x`, are not known secrets (redactText finds those by pattern).
 */
export function jsonSecrets(value: unknown): string[] {
  const found = new Set<string>();
  const visit = (node: unknown, key: string, depth: number, secret: boolean): void => {
    if (depth > maxDepth) return;
    if (typeof node === 'number' && secret) found.add(String(node));
    if (typeof node === 'string') {
      if (node === '') return;
      const url = parseUrl(node.trim());
      const hook = url !== undefined && url.pathname.length > 1 && (secretPathKey.test(key) || webhookPattern.test(`${url.hostname}${url.pathname}`));
      if (secret || hook) {
        found.add(node);
        // A hook's path is its token: a message may quote the path alone.
        if (url !== undefined && `${url.pathname}${url.search}`.length >= minKnownSecretChars) found.add(`${url.pathname}${url.search}`);
      }
      if (url !== undefined) {
        if (url.password !== '') found.add(decoded(url.password));
        const bot = hook ? telegramBotPath.exec(url.pathname) : null;
        if (bot?.[1] !== undefined) found.add(decoded(bot[1]));
      }
      for (const token of node.matchAll(tokenShape)) found.add(token[0]);
      return;
    }
    if (Array.isArray(node)) for (const item of node) visit(item, key, depth + 1, secret);
    else if (node !== null && typeof node === 'object') {
      const object = node as Record<string, unknown>;
      for (const [k, v] of Object.entries(object)) visit(v, k, depth + 1, secret || secretMember(k, v, object));
    }
  };
  visit(value, '', 0, false);
  return [...found];
}
