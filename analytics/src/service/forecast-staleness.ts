import { inferStepMillis } from '../forecast/stats.js';

/** What the rule reads of a series: the time of its newest sample (the scorer moves it on). */
export interface SampledSeries {
  readonly lastTimestampMillis: number;
}

/** When a series counts as stopped: `forecastStaleIntervals` and `forecastStaleMinMillis` of the config. */
export interface StalenessRule {
  staleIntervals: number;
  staleMinMillis: number;
}

/**
 * Which series stopped reporting, for the forecast scheduler. Each series' newest sample time is noted at
 * every look (`observe`), and when it last moved on is kept in wall time: so an agent's clock that is off,
 * or history replayed from the past, does not make a live series look stopped. A series is stale when its
 * newest sample has not moved on for `staleIntervals` of its own sample intervals and `staleMinMillis`. A
 * series first seen (a start, a restart with restored state) counts as fresh from then.
 */
export class SampleFreshness {
  private readonly rule: StalenessRule;
  // Weak: a series evicted from the table takes its entry with it.
  private readonly seen = new WeakMap<SampledSeries, { newestMillis: number; movedAtMillis: number }>();

  constructor(rule: StalenessRule) {
    this.rule = rule;
  }

  /** Notes the series' newest sample time as seen at `nowMillis` (wall time). */
  observe(series: SampledSeries, nowMillis: number): void {
    const entry = this.seen.get(series);
    if (entry === undefined || entry.newestMillis !== series.lastTimestampMillis) this.seen.set(series, { newestMillis: series.lastTimestampMillis, movedAtMillis: nowMillis });
  }

  /** How long the series may send nothing before it counts as stopped, given its sample timestamps. */
  allowedSilenceMillis(timestampsMillis: readonly number[]): number {
    const stepMillis = timestampsMillis.length >= 2 ? inferStepMillis(timestampsMillis) : 0;
    return Math.max(this.rule.staleIntervals * stepMillis, this.rule.staleMinMillis);
  }

  /** Whether the series (observed before) has sent no new sample for longer than {@link allowedSilenceMillis}. */
  isStale(series: SampledSeries, timestampsMillis: readonly number[], nowMillis: number): boolean {
    this.observe(series, nowMillis);
    const silentMillis = nowMillis - (this.seen.get(series) as { movedAtMillis: number }).movedAtMillis;
    // Within the least allowed silence (every live series): no need to infer the series' step from its history.
    return silentMillis > this.rule.staleMinMillis && silentMillis > this.allowedSilenceMillis(timestampsMillis);
  }
}
