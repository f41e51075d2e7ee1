/**
 * What a score means: the expected number of false alarms per series-day when alerting at
 * `score ≥ threshold`, measured out of fold (`sloth bench nab --cv`: alarm onsets outside labelled
 * windows, and the day after each, on each held-out category, scored by the configuration chosen on
 * the other three; all candidates and statistics-only candidates) and on anomaly-free synthetic series
 * (`bench/detector/false-alarms.ts`, worst family, statistics only and with the model); each entry is
 * the largest of the four, rounded up to two significant figures, so it is an upper estimate.
 *
 * Measured with the detector defaults of 8aa0212 (`suppressFactor` 0, `longRate` 1/8,640; detector
 * and NAB code unchanged since; runs of 2026-12-06 18:42 UTC by the rule in docs/anomaly-detection.md,
 * committed before they ran). NAB: 846.9 quiet series-days at NAB's own intervals (mostly 5 minutes); synthetic:
 * 5-minute and hourly series. The rates are per series-day at those intervals: a series sampled every second has
 * ~300× the rows per day of a 5-minute one and is not covered by this table.
 * Regenerate with the commands in docs/anomaly-detection.md when the detector changes. Checked, not regenerated,
 * after rule S2 made `suppressMaxMillis` 25 h the default (2026-12-07): every measured rate is still at or under
 * its entry (synthetic largest 1.47 / 0.885 / 0.341 at 0.3 / 0.4 / 0.5; NAB statistics-only out of fold 0.375 /
 * 0.192 / 0.085, 0.006 at 0.7, 0.0012 at 0.8). Checked again after rule W made `escapeSpan` 1 the default
 * (2026-12-07, bench/detector/nested-cv-rule.md): synthetic identical; NAB statistics-only out of fold 0.374 /
 * 0.191 / 0.085, 0.006 at 0.7, 0.001 at 0.8.
 */
export const falseAlarmTable: ReadonlyArray<readonly [threshold: number, perSeriesDay: number]> = [
  // Synthetic: bursty counts (statistics only) at 0.3–0.5; with the model, bursty counts and the random
  // walk at 0.55 (0.146), the random walk at 0.6 and 0.65 (0.146).
  [0.3, 1.5],
  [0.4, 0.89],
  [0.5, 0.35],
  [0.55, 0.15],
  [0.6, 0.15],
  [0.65, 0.15],
  // NAB statistics-only out of fold: 5 onsets in 846.9 series-days. Between 0.65 and 0.7 lies the
  // score of a value outside the range seen so far (0.667): the rate falls as a step there, which the
  // log-linear interpolation spreads over the interval.
  [0.7, 0.006],
  // One onset at 0.8 (statistics-only NAB) and none at 0.9 anywhere: one onset in the NAB pool
  // (1 / 846.9 series-days) is the bound where nothing was measurable, never 0.
  [0.8, 0.0012],
  [0.9, 0.0012],
];

/** Expected false alarms per series-day when alerting at `score ≥ threshold` (log-linear interpolation; below the table its first entry, above it its last: the bound never drops to 0). */
export function falseAlarmsPerSeriesDay(threshold: number): number {
  const table = falseAlarmTable;
  const first = table[0] as readonly [number, number];
  if (threshold <= first[0]) return first[1];
  for (let i = 1; i < table.length; i += 1) {
    const [t1, r1] = table[i] as readonly [number, number];
    const [t0, r0] = table[i - 1] as readonly [number, number];
    if (threshold <= t1) {
      if (threshold === t1 || r0 === r1) return r1;
      if (r0 <= 0 || r1 <= 0) return r1 + ((r0 - r1) * (t1 - threshold)) / (t1 - t0);
      // Clamped to the two entries: exp(log(r)) can miss r by a rounding step, which made a flat stretch
      // of the table (0.8 → 0.9) rise at its end.
      const rate = Math.exp(Math.log(r0) + ((Math.log(r1) - Math.log(r0)) * (threshold - t0)) / (t1 - t0));
      return Math.min(Math.max(rate, Math.min(r0, r1)), Math.max(r0, r1));
    }
  }
  return (table[table.length - 1] as readonly [number, number])[1];
}

/** The lowest tabulated threshold whose expected false alarms per series-day are at most `perSeriesDay`. */
export function thresholdForFalseAlarms(perSeriesDay: number): number {
  for (const [threshold, rate] of falseAlarmTable) if (rate <= perSeriesDay) return threshold;
  return 1;
}


/** The live incident table (false incidents per series-day at 1 s by peak score) lives in core, where the agent's triggers read it too. */
export { liveIncidentTable, type LiveIncidentRate } from '@sloth/core/live-calibration';
