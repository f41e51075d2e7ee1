import { forbiddenGlobals } from './prelude.js';
import type { LintProblem } from './types.js';

interface NameToken {
  name: string;
  line: number;
  /** The previous significant character or keyword ('.', ':', 'local', …). */
  previous: string;
  next: string;
}

/** Finds identifiers outside strings and comments, with their lines and neighbours. */
function scanNames(source: string): NameToken[] {
  const tokens: NameToken[] = [];
  let line = 1;
  let i = 0;
  let previous = '';
  const longBracket = (at: number): number => {
    // returns the level of a long bracket starting at `at` ('[' '='* '['), or -1
    if (source[at] !== '[') return -1;
    let j = at + 1;
    while (source[j] === '=') j += 1;
    return source[j] === '[' ? j - at - 1 : -1;
  };
  const skipLong = (level: number): void => {
    const close = `]${'='.repeat(level)}]`;
    const end = source.indexOf(close, i);
    const stop = end < 0 ? source.length : end + close.length;
    for (let k = i; k < stop; k++) if (source[k] === '\n') line += 1;
    i = stop;
  };
  while (i < source.length) {
    const c = source[i] as string;
    if (c === '\n') {
      line += 1;
      i += 1;
    } else if (c === '-' && source[i + 1] === '-') {
      i += 2;
      const level = longBracket(i);
      if (level >= 0) skipLong(level);
      else while (i < source.length && source[i] !== '\n') i += 1;
    } else if (c === '"' || c === "'") {
      i += 1;
      while (i < source.length && source[i] !== c && source[i] !== '\n') i += source[i] === '\\' ? 2 : 1;
      i += 1;
      previous = 'string';
    } else if (c === '[' && longBracket(i) >= 0) {
      skipLong(longBracket(i));
      previous = 'string';
    } else if (/[A-Za-z_]/.test(c)) {
      let j = i + 1;
      while (j < source.length && /[A-Za-z0-9_]/.test(source[j] as string)) j += 1;
      const name = source.slice(i, j);
      let k = j;
      while (k < source.length && /[ \t\r]/.test(source[k] as string)) k += 1;
      tokens.push({ name, line, previous, next: source[k] ?? '' });
      previous = name;
      i = j;
    } else if (/\s/.test(c)) {
      i += 1;
    } else {
      previous = c;
      i += 1;
    }
  }
  return tokens;
}

/** Static check for the capabilities the sandbox refuses (they would fail at run time). */
export function findForbiddenGlobals(source: string): LintProblem[] {
  const forbidden = new Set<string>(forbiddenGlobals.filter((name) => name !== 'dump'));
  const problems: LintProblem[] = [];
  const locals = new Set<string>();
  for (const token of scanNames(source)) {
    if (token.previous === 'local' || token.previous === 'function') locals.add(token.name);
    if (token.name === 'dump' && (token.previous === '.' || token.previous === ':')) {
      problems.push({ severity: 'error', line: token.line, message: "'string.dump' is forbidden in playbooks (no bytecode)" });
      continue;
    }
    if (!forbidden.has(token.name) || locals.has(token.name)) continue;
    if (token.previous === '.' || token.previous === ':') continue;
    // A table constructor key (`{ os = ... }`) is not a global access.
    if (token.next === '=' && (token.previous === '{' || token.previous === ',')) continue;
    problems.push({ severity: 'error', line: token.line, message: `'${token.name}' is not available in the playbook sandbox` });
  }
  return problems;
}

/** The line number in a Lua error message `file.lua:12: …`, if any. */
export function lineOf(message: string, fileName: string): number | undefined {
  const escaped = fileName.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const match = new RegExp(`${escaped}:(\\d+):`).exec(message);
  return match === null ? undefined : Number(match[1]);
}
