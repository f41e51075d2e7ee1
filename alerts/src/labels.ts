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

/**
 * Stable identity of a label set: the same labels give the same fingerprint
 * in every process. Two 32-bit FNV-1a hashes with different seeds (64 bits):
 * a native hash object per alert cost more in garbage collection than the
 * whole rest of creating 100,000 alerts.
 */
export function fingerprint(labels: AlertLabels): string {
  const names = Object.keys(labels);
  if (names.length > 1) names.sort();
  // Hash state in locals, text mixed inline: a closure per call was one more object per alert.
  let a = 0x811c9dc5;
  let b = 0x01000193 ^ 0x5bd1e995;
  for (let n = 0; n < names.length * 2; n += 1) {
    const name = names[n >> 1] as string;
    const text = (n & 1) === 0 ? name : (labels[name] as string);
    for (let i = 0; i < text.length; i += 1) {
      const c = text.charCodeAt(i);
      a = Math.imul(a ^ c, 0x01000193);
      b = Math.imul(b ^ c, 0x01000193) ^ (b >>> 15);
    }
    a = Math.imul(a ^ 0xff, 0x01000193);
    b = Math.imul(b ^ 0xfe, 0x01000193) ^ (b >>> 15);
  }
  return hex8(a) + hex8(b);
}

function hex8(value: number): string {
  const text = (value >>> 0).toString(16);
  return text.length === 8 ? text : '0'.repeat(8 - text.length) + text;
}

/** `*` wildcards (as in playbook triggers) → anchored regex. */
export function globToRegExp(glob: string): RegExp {
  return new RegExp(`^${glob.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*')}$`);
}
