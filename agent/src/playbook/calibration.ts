/**
 * What an anomaly trigger's score means in false incidents, for `max_false_per_day` triggers and for
 * the reasons a match gives.
 *
 * The rows are those of `liveIncidentTable` in analytics/src/detector/calibration.ts, where the comment
 * says how they were measured (bench/live/calibrate.ts). They are copied because the boundary rule keeps
 * the agent from importing the analytics service; agent/test/playbook/calibration.test.ts fails when the
 * two differ. Regenerate both from `calibrate.js --pool`, never edit one alone.
 */

/** False incidents per series-day at 1 s sampling when a trigger requires an incident's peak score ≥ `minScore` (95 % upper bound). */
export interface LiveIncidentRate {
  minScore: number;
  /** False incidents counted at this score. */
  incidents: number;
  /** Series-days of fault-free data they were counted on. */
  seriesDays: number;
  /** The one-sided 95 % Poisson upper bound of the rate: never 0. */
  perSeriesDay: number;
}

// BEGIN liveIncidentTable rows (bench/live/calibrate.js --pool)
export const liveIncidentTable: readonly LiveIncidentRate[] = Object.freeze([
  { minScore: 0.68, incidents: 7, seriesDays: 143.5, perSeriesDay: 0.092 },
  { minScore: 0.7, incidents: 4, seriesDays: 143.5, perSeriesDay: 0.064 },
  { minScore: 0.75, incidents: 1, seriesDays: 143.5, perSeriesDay: 0.034 },
  { minScore: 0.8, incidents: 0, seriesDays: 143.5, perSeriesDay: 0.021 },
  { minScore: 0.85, incidents: 0, seriesDays: 143.5, perSeriesDay: 0.021 },
  { minScore: 0.9, incidents: 0, seriesDays: 143.5, perSeriesDay: 0.021 },
  { minScore: 0.95, incidents: 0, seriesDays: 143.5, perSeriesDay: 0.021 },
  { minScore: 0.99, incidents: 0, seriesDays: 143.5, perSeriesDay: 0.021 },
]);
// END liveIncidentTable rows

/** The score a `max_false_per_day` asks for, with the rate it stands for; `undefined` when no tabulated score is that rare. */
export function minScoreForFalseRate(maxPerSeriesDay: number, table: readonly LiveIncidentRate[] = liveIncidentTable): LiveIncidentRate | undefined {
  return table.find((row) => row.perSeriesDay <= maxPerSeriesDay);
}

/**
 * The rate a trigger's minimum score stands for: the row of the highest tabulated score at or below it
 * (a higher score never has more false incidents, so the bound holds); `undefined` below the table
 * (analytics opens incidents at its first score by default, so such a minimum adds nothing).
 */
export function falseRateAtScore(minScore: number, table: readonly LiveIncidentRate[] = liveIncidentTable): LiveIncidentRate | undefined {
  let found: LiveIncidentRate | undefined;
  for (const row of table) if (row.minScore <= minScore) found = row;
  return found;
}

/** The lowest rate the table can vouch for, at the lowest score that reaches it (for the error that names it). */
export function rarestRate(table: readonly LiveIncidentRate[] = liveIncidentTable): LiveIncidentRate {
  const lowest = Math.min(...table.map((row) => row.perSeriesDay));
  return table.find((row) => row.perSeriesDay === lowest) as LiveIncidentRate;
}
