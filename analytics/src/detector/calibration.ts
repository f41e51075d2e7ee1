/**
 * What a score means: the expected number of false alarms per series-day when alerting at
 * `score ≥ threshold`, measured out of fold (`sloth bench nab --cv`: alarm onsets outside labelled
 * windows on each held-out category, scored by the configuration chosen on the other three) and on
 * anomaly-free synthetic series; each entry is the larger of the two, so it is an upper estimate.
 * Regenerate with the commands in docs/anomaly-detection.md when the detector changes.
 */
export const falseAlarmTable: ReadonlyArray<readonly [threshold: number, perSeriesDay: number]> = [
  [0.3, 2.1],
  [0.4, 1.04],
  [0.5, 0.51],
  [0.55, 0.27],
  [0.6, 0.16],
  [0.65, 0.13],
  [0.7, 0.037],
  // None measured at 0.8 and above in ~850 NAB series-days plus 600 synthetic ones, but one onset at
  // 0.8 in the statistics-only run: 1 in 500 series-days is the honest bound.
  [0.8, 0.002],
  [0.9, 0.002],
];

/** Expected false alarms per series-day when alerting at `score ≥ threshold` (log-linear interpolation; 0 beyond the table). */
export function falseAlarmsPerSeriesDay(threshold: number): number {
  const table = falseAlarmTable;
  const first = table[0] as readonly [number, number];
  if (threshold <= first[0]) return first[1];
  for (let i = 1; i < table.length; i += 1) {
    const [t1, r1] = table[i] as readonly [number, number];
    const [t0, r0] = table[i - 1] as readonly [number, number];
    if (threshold <= t1) {
      if (r0 <= 0 || r1 <= 0) return r1 + ((r0 - r1) * (t1 - threshold)) / (t1 - t0);
      return Math.exp(Math.log(r0) + ((Math.log(r1) - Math.log(r0)) * (threshold - t0)) / (t1 - t0));
    }
  }
  return (table[table.length - 1] as readonly [number, number])[1];
}

/** The lowest tabulated threshold whose expected false alarms per series-day are at most `perSeriesDay`. */
export function thresholdForFalseAlarms(perSeriesDay: number): number {
  for (const [threshold, rate] of falseAlarmTable) if (rate <= perSeriesDay) return threshold;
  return 1;
}
