/**
 * The live incident calibration: what an anomaly incident's peak score means in false incidents per
 * series-day at 1 s sampling. Measured by bench/live/calibrate.ts (see the table's comment); used by
 * playbook triggers that state `max_false_per_day` and by the reasons a match gives.
 */

/** False incidents per series-day at 1 s sampling when a trigger requires an incident's peak score ≥ `minScore`. */
export interface LiveIncidentRate {
  minScore: number;
  /** False incidents counted at this score. */
  incidents: number;
  /** Series-days of fault-free data they were counted on. */
  seriesDays: number;
  /** The one-sided 95 % Poisson upper bound of the rate (3.0 / seriesDays for 0 incidents): never 0. */
  perSeriesDay: number;
}

/**
 * What an incident's score means live: false incidents per series-day at 1 s sampling (the cadence of
 * bench/live/faults.js and of the idle-host target) when a playbook trigger requires the incident's peak
 * score ≥ `minScore`, measured — not chosen — through the real path: synthetic hosts sent as OTLP through
 * a real collector → Redis → the analytics service at its defaults (statistics-only detector), on
 * fault-free hosts and the fault-free stretches of faulty ones, after a 1 h warm-up, on seeds nobody
 * tuned on (bench/live/calibration-rule.md, committed before they ran). The peak bounds what any trigger
 * sees (a trigger without `min_duration` matches the open, whose score is at most the peak). Each rate is
 * the 95 % upper bound of the pooled count, so a row with 0 incidents says "< 3 in that many
 * series-days", never 0. A trigger whose metric pattern matches k series of a host expects k × the rate
 * per host-day. Synthetic hosts are smoother than real ones: today's real idle runs opened 0–3 incidents
 * per host-hour (docs/benchmarks.md: 0–12 in fresh runs of 2026-12-06), which this table cannot see.
 *
 *   npx tsc -b && for s in 31 32 …; do node dist/bench/live/calibrate.js --seed $s --days D > seed-$s.json; done
 *   node dist/bench/live/calibrate.js --pool seed-*.json
 *
 * Read by the analytics docs and by the agent's playbook triggers (`max_false_per_day`): one table.
 */
/**
 * The peak score from which the analytics service opens an incident by default (`analytics.anomalyThreshold`).
 * The dashboards draw their incident line here, so what a panel calls an incident is what the service opens.
 */
export const defaultIncidentScore = 0.68;

/**
 * The score an `anomaly` alert rule asks of an incident's peak by default (`min_score`): the alerts page on
 * the strongest incidents only (under 0.021 false incidents per series-day in the table below).
 */
export const defaultAlertMinScore = 0.9;

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
