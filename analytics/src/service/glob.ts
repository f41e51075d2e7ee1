/** `*` matches any run of characters; everything else is literal. */
export function globRegExp(pattern: string): RegExp {
  return new RegExp(`^${pattern.split('*').map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`);
}

/** A metric name pattern with optional label patterns: `system.network.*{device="lo"}`. */
export interface SeriesPattern {
  readonly name: RegExp;
  /** Label name and value pattern; a series matches when it has every label with a matching value. */
  readonly labels: readonly (readonly [string, RegExp])[];
}

const labelMatcher = /^\s*([A-Za-z_][A-Za-z0-9_.]*)\s*=\s*"([^"]*)"\s*$/;

/**
 * Parses `NAME_GLOB` or `NAME_GLOB{label="value glob",…}` (`*` in the name or a value is any run of
 * characters). Throws an error naming what is wrong, for configuration checks.
 */
export function parseSeriesPattern(pattern: string): SeriesPattern {
  const brace = pattern.indexOf('{');
  if (brace < 0) return { name: globRegExp(pattern), labels: [] };
  if (brace === 0) throw new Error(`series pattern ${JSON.stringify(pattern)} has no metric name before "{" (use * for any)`);
  if (!pattern.endsWith('}')) throw new Error(`series pattern ${JSON.stringify(pattern)} must end with "}"`);
  const body = pattern.slice(brace + 1, -1);
  const labels = body.trim() === '' ? [] : body.split(',').map((part) => {
    const match = labelMatcher.exec(part);
    if (match === null) throw new Error(`series pattern ${JSON.stringify(pattern)}: ${JSON.stringify(part.trim())} is not label="value"`);
    return [match[1] as string, globRegExp(match[2] as string)] as const;
  });
  return { name: globRegExp(pattern.slice(0, brace)), labels };
}

/** Whether a series (name and labels) matches a pattern. */
export function matchesSeriesPattern(pattern: SeriesPattern, name: string, labels: Readonly<Record<string, string>>): boolean {
  if (!pattern.name.test(name)) return false;
  return pattern.labels.every(([label, value]) => {
    const actual = labels[label];
    return actual !== undefined && value.test(actual);
  });
}
