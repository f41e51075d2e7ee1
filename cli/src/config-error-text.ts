import type { ConfigError, ConfigProblem } from '@sloth/core/errors';

/** Keys whose values are secrets: a problem names the key and never shows the value. */
const secretKey = /token|secret|password|passphrase|authorization|headers|apikey|api_key|signing/i;

/** A value as a problem shows it: secrets hidden, credentials in a URL masked, long values cut. */
function shownValue(problem: ConfigProblem): string | undefined {
  if (problem.value === undefined) return undefined;
  if (secretKey.test(problem.key)) return '(secret, not shown)';
  if (typeof problem.value === 'string') {
    const text = problem.value;
    if (text.includes('@')) {
      // A URL's user name and password are secrets (redis://:PASSWORD@host); a malformed one may still hold them.
      try {
        const url = new URL(text);
        if (url.username !== '') url.username = '***';
        if (url.password !== '') url.password = '***';
        return JSON.stringify(url.toString());
      } catch {
        return '(not shown: it holds an "@" and may carry a password)';
      }
    }
  }
  // JSON.stringify gives undefined for a function or a symbol only; neither comes from YAML, the environment or a flag.
  const text = JSON.stringify(problem.value) ?? typeof problem.value;
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

/**
 * The text `sloth` prints for an invalid configuration: every problem with its key, source and
 * message, the value shown unless it is (or may hold) a secret (test/session-e-rules.md, F4).
 */
export function configErrorText(error: ConfigError): string {
  const lines = error.problems.map((p) => {
    const value = shownValue(p);
    return `  - ${p.key}${value === undefined ? '' : ` = ${value}`} (${p.source}): ${p.message}`;
  });
  return `invalid configuration (${error.problems.length} problem${error.problems.length === 1 ? '' : 's'}):\n${lines.join('\n')}`;
}
