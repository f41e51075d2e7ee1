/**
 * `WHERE a AND b …` from the conditions whose value is defined, and their parameters in order: the
 * optional filters of the spans and logs queries. An empty string when no condition applies.
 */
export function whereDefined(conditions: ReadonlyArray<readonly [sql: string, value: unknown]>): { where: string; params: unknown[] } {
  const clauses: string[] = [];
  const params: unknown[] = [];
  for (const [sql, value] of conditions) {
    if (value === undefined) continue;
    clauses.push(sql);
    params.push(value);
  }
  return { where: clauses.length > 0 ? `WHERE ${clauses.join(' AND ')}` : '', params };
}
