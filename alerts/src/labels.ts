import { createHash } from 'node:crypto';
import { InputError } from '@sloth/core';

/** Alert labels: name → value, as in Prometheus and Alertmanager. */
export type AlertLabels = Readonly<Record<string, string>>;

export type MatchOp = '=' | '!=' | '=~' | '!~';

/** One label matcher, as in Alertmanager's `matchers:` (`severity="critical"`, `agent=~"web-.*"`). */
export interface Matcher {
  readonly name: string;
  readonly op: MatchOp;
  readonly value: string;
  /** Anchored regular expression for `=~` / `!~`. */
  readonly regex?: RegExp;
}

const matcherPattern = /^\s*([A-Za-z_][A-Za-z0-9_.]*)\s*(=~|!~|!=|=)\s*(?:"((?:[^"\\]|\\.)*)"|'([^']*)'|(.*?))\s*$/;

/** Builds a matcher; a bad regular expression is an {@link InputError} naming it. */
export function matcher(name: string, op: MatchOp, value: string): Matcher {
  if (op === '=~' || op === '!~') {
    let regex: RegExp;
    try {
      regex = new RegExp(`^(?:${value})$`);
    } catch (error) {
      throw new InputError(`matcher ${name}${op}"${value}": ${JSON.stringify(value)} is not a valid regular expression (${(error as Error).message})`, { value });
    }
    return Object.freeze({ name, op, value, regex });
  }
  return Object.freeze({ name, op, value });
}

/** Parses `name="value"`, `name=~"re"`, `name!=value` (quotes optional). */
export function parseMatcher(text: string): Matcher {
  const match = matcherPattern.exec(text);
  if (match === null) {
    throw new InputError(`matcher ${JSON.stringify(text)} is not valid: write name="value", name!="value", name=~"regex" or name!~"regex"`, { value: text });
  }
  const value = match[3] !== undefined ? match[3].replace(/\\(.)/g, '$1') : (match[4] ?? match[5] ?? '');
  return matcher(match[1] as string, match[2] as MatchOp, value);
}

/** True when the labels satisfy the matcher; a missing label is the empty string, as in Alertmanager. */
export function matches(m: Matcher, labels: AlertLabels): boolean {
  const value = labels[m.name] ?? '';
  switch (m.op) {
    case '=':
      return value === m.value;
    case '!=':
      return value !== m.value;
    case '=~':
      return (m.regex as RegExp).test(value);
    case '!~':
      return !(m.regex as RegExp).test(value);
  }
}

export function matchesAll(list: readonly Matcher[], labels: AlertLabels): boolean {
  for (const m of list) if (!matches(m, labels)) return false;
  return true;
}

export function formatMatcher(m: Matcher): string {
  return `${m.name}${m.op}${JSON.stringify(m.value)}`;
}

/** Parses `k=v` pairs from the command line or a query string into labels. */
export function parseLabelPairs(pairs: readonly string[]): Record<string, string> {
  const labels: Record<string, string> = {};
  for (const pair of pairs) {
    const at = pair.indexOf('=');
    if (at <= 0) throw new InputError(`label ${JSON.stringify(pair)} is not name=value`, { value: pair });
    labels[pair.slice(0, at)] = pair.slice(at + 1);
  }
  return labels;
}

/** Stable identity of a label set: the same labels give the same fingerprint in every process. */
export function fingerprint(labels: AlertLabels): string {
  const names = Object.keys(labels).sort();
  const hash = createHash('sha256');
  for (const name of names) hash.update(`${name}\u0000${labels[name]}\u0001`);
  return hash.digest('hex').slice(0, 16);
}

/** `*` wildcards (as in playbook triggers) → anchored regex. */
export function globToRegExp(glob: string): RegExp {
  return new RegExp(`^${glob.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*')}$`);
}
