/**
 * What the tests and the query-budget benchmark need to run a dashboard's
 * queries outside Grafana: Grafana's `label_values()` as PromQL, template
 * variables substituted, and the metric names an expression reads.
 */

const keywords = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'bool', 'offset', 'and', 'or', 'unless', 'inf', 'nan']);
/** Aggregation operators, which may be followed by `by (…)` before their parenthesis. */
const aggregations = new Set(['sum', 'min', 'max', 'avg', 'group', 'stddev', 'stdvar', 'count', 'count_values', 'bottomk', 'topk', 'quantile']);

/** A variable's `label_values(selector, label)` as the PromQL that returns the same label values; other expressions unchanged. */
export function asPromql(expr: string): string {
  const match = /^label_values\((.+),\s*([A-Za-z_][A-Za-z0-9_]*)\)$/.exec(expr.trim());
  return match === null ? expr : `group by (${match[2]}) (${match[1]})`;
}

/** `expr` with `$__rate_interval`, `$__interval` and `$name` / `${name}` replaced. */
export function substitute(expr: string, variables: Readonly<Record<string, string>>, rateInterval: string): string {
  return expr
    .replace(/\$__rate_interval/g, rateInterval)
    .replace(/\$__interval/g, rateInterval)
    .replace(/\$\{(\w+)\}|\$(\w+)/g, (_whole, braced: string | undefined, bare: string | undefined) => {
      const name = braced ?? bare ?? '';
      const value = variables[name];
      if (value === undefined) throw new Error(`no value for template variable $${name} in ${expr}`);
      return value;
    });
}

/** Names of the metrics an expression selects (not functions, keywords, labels or durations). */
export function metricNames(expr: string): string[] {
  let text = asPromql(expr)
    .replace(/"(?:[^"\\]|\\.)*"/g, '""')
    .replace(/\{[^}]*\}/g, '{}')
    .replace(/\[[^\]]*\]/g, '[]');
  text = text.replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, '$1()');
  const names = new Set<string>();
  for (const match of text.matchAll(/[A-Za-z_:][A-Za-z0-9_:]*/g)) {
    const word = match[0];
    const index = match.index;
    const before = text[index - 1];
    if (before !== undefined && /[0-9.]/.test(before)) continue;
    if (text.slice(index + word.length).trimStart().startsWith('(')) continue;
    if (keywords.has(word.toLowerCase()) || aggregations.has(word)) continue;
    names.add(word);
  }
  return [...names];
}
