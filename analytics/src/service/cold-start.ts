import type { Logger } from '@sloth/core';
import type { CollectorHistory } from './collector-history.js';
import type { AnalyticsMetrics } from './prometheus-metrics.js';
import type { Scorer } from './scorer.js';
import type { NewSeries, SeriesTable } from './series-table.js';
import type { SeriesState } from './series-state.js';

/** A series seen for the first time, with the time of its first sample in the batch. */
export type FreshSeries = NewSeries & { timestampMillis: number };

export interface ColdStartOptions {
  history: CollectorHistory;
  table: SeriesTable;
  scorer: Scorer;
  metrics: AnalyticsMetrics;
  logger: Logger;
  /** How much history a new series is warmed up with. */
  coldStartMillis: number;
}

/**
 * Series that are neither in memory nor in the registry start from the collector's history of the
 * last `coldStartMillis` (detector warmed up, history filled, nothing published). A collector that
 * is down does not stall every new series: cold starts pause for a minute.
 */
export class ColdStart {
  private readonly options: ColdStartOptions;
  private pausedUntilMillis = 0;

  constructor(options: ColdStartOptions) {
    this.options = options;
  }

  get paused(): boolean {
    return Date.now() < this.pausedUntilMillis;
  }

  async warm(fresh: readonly FreshSeries[]): Promise<void> {
    const { table, history, scorer, metrics, logger } = this.options;
    const toWarm: Array<{ state: SeriesState; sample: FreshSeries }> = [];
    for (const sample of fresh) {
      const { state, restored } = table.restoreOrCreate(sample);
      if (restored) table.adopt(state);
      else toWarm.push({ state, sample });
    }
    const concurrency = 8;
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < toWarm.length) {
        const item = toWarm[next++]!;
        if (!this.paused) {
          const to = item.sample.timestampMillis - 1;
          const result = await history.fetch(item.sample.seriesId, to - this.options.coldStartMillis, to);
          if (result.ok) metrics.coldStartPoints += scorer.learn(item.state, result.points);
          else if (result.retryable) {
            this.pausedUntilMillis = Date.now() + 60_000;
            logger.warn({ reason: result.reason }, 'cannot read series history from the collector; new series start cold for the next minute');
          } else logger.warn({ reason: result.reason, series: item.sample.seriesId }, 'cannot read series history from the collector');
        }
        table.adopt(item.state);
      }
    };
    await Promise.all(Array.from({ length: Math.min(concurrency, toWarm.length) }, worker));
  }
}
