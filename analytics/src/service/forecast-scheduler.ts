import type { Redis } from 'ioredis';
import { encodeJsonMessage, forecastMessageSchema, type ForecastMessage, type Logger, type RedisKeys } from '@sloth/core';
import type { ForecastOptions, ForecastResult } from '../forecast/types.js';
import type { AnalyticsConfig } from './config.js';
import type { ComputePool } from './compute-pool.js';
import type { ModelRegistry } from './model-registry.js';
import type { AnalyticsMetrics } from './prometheus-metrics.js';
import { SampleFreshness } from './forecast-staleness.js';
import { settlesWithin } from './service-util.js';
import type { SeriesState } from './series-state.js';
import type { SeriesTable } from './series-table.js';

export interface ForecastSchedulerOptions {
  config: Pick<
    AnalyticsConfig,
    'forecastIntervalMillis' | 'forecastConcurrency' | 'forecastMinPoints' | 'forecastHorizonSteps' | 'forecastStaleIntervals' | 'forecastStaleMinMillis' | 'keepModelVersions'
  >;
  forecastOptions: Partial<ForecastOptions> | undefined;
  table: SeriesTable;
  pool: ComputePool;
  registry: ModelRegistry;
  writer: Redis;
  keys: RedisKeys;
  /** Approximate cap of the forecasts stream (XADD MAXLEN ~). */
  maxLength: number;
  metrics: AnalyticsMetrics;
  logger: Logger;
}

/**
 * Forecasts every series with enough history every `forecastIntervalMillis`, the longest-waiting
 * first and at most `forecastConcurrency` at a time, on the compute pool; publishes each forecast
 * on `sloth:forecasts` and keeps it in the registry. A series that stopped reporting (see
 * {@link SampleFreshness}) is passed over, its forecast taken off `/metrics`, until it reports again.
 */
export class ForecastScheduler {
  private readonly options: ForecastSchedulerOptions;
  private readonly inFlight = new Set<Promise<void>>();
  private readonly freshness: SampleFreshness;
  private timer: NodeJS.Timeout | undefined;
  private stopping = false;

  constructor(options: ForecastSchedulerOptions) {
    this.options = options;
    this.freshness = new SampleFreshness({ staleIntervals: options.config.forecastStaleIntervals, staleMinMillis: options.config.forecastStaleMinMillis });
  }

  start(): void {
    this.timer = setInterval(() => this.forecastDue(), Math.min(this.options.config.forecastIntervalMillis, 5_000));
    this.timer.unref();
  }

  /** Stops starting forecasts and waits (at most 30 s) for those in flight. */
  async shutdown(): Promise<void> {
    this.stopping = true;
    clearInterval(this.timer);
    await settlesWithin(Promise.allSettled([...this.inFlight]), 30_000);
  }

  private forecastDue(): void {
    if (this.stopping) return;
    const { config, table } = this.options;
    const free = config.forecastConcurrency - this.inFlight.size;
    if (free <= 0) return;
    const now = Date.now();
    const due: SeriesState[] = [];
    for (const state of table.values()) {
      this.freshness.observe(state, now);
      if (state.forecastInFlight || state.history.length < config.forecastMinPoints) continue;
      if (now - state.lastForecastMillis >= config.forecastIntervalMillis) due.push(state);
    }
    // The longest-waiting series first, so a slow forecaster still gets round to every series.
    due.sort((a, b) => a.lastForecastMillis - b.lastForecastMillis);
    let started = 0;
    for (const state of due) {
      if (started >= free) break;
      const history = state.history.toArrays();
      // Looked at again after another interval: a stopped series costs one look per interval, not a forecast.
      state.lastForecastMillis = now;
      if (this.freshness.isStale(state, history.timestampsMillis, now)) {
        // Its last forecast would be drawn as current: off `/metrics` until it reports and is forecast again.
        this.options.metrics.dropForecast(state.seriesId);
        this.options.logger.debug({ series: state.seriesId, lastSampleMillis: state.lastTimestampMillis }, 'series stopped reporting: not forecast');
        continue;
      }
      started += 1;
      state.forecastInFlight = true;
      const run = this.forecast(state, history).finally(() => {
        state.forecastInFlight = false;
        this.inFlight.delete(run);
      });
      this.inFlight.add(run);
    }
  }

  private async forecast(state: SeriesState, history: { timestampsMillis: number[]; values: number[] }): Promise<void> {
    const { pool, registry, writer, keys, metrics, logger, config } = this.options;
    const { timestampsMillis, values } = history;
    let result: ForecastResult;
    try {
      result = await pool.run({ type: 'forecast', timestampsMillis, values, horizonSteps: config.forecastHorizonSteps, options: this.options.forecastOptions });
    } catch (error) {
      metrics.forecastFailures += 1;
      logger.warn({ err: error, series: state.seriesId }, 'forecast failed');
      return;
    }
    if (writer.status !== 'ready') return;
    const points = result.points.map((p) => {
      const [p10, p50, p90] = [p.p10, p.p50, p.p90].sort((a, b) => a - b) as [number, number, number];
      return { timestampMillis: p.timestampMillis, p10, p50, p90 };
    });
    const version = (registry.latestModel(state.seriesId, 'forecast')?.version ?? 0) + 1;
    const message: ForecastMessage = {
      seriesId: state.seriesId,
      agentId: state.agentId,
      metric: state.metric,
      issuedAtMillis: Date.now(),
      stepMillis: result.stepMillis,
      points,
      model: result.model,
      modelVersion: `forecast-v${version}`,
    };
    try {
      const parsed = forecastMessageSchema.parse(message);
      registry.saveModel(
        {
          seriesId: state.seriesId,
          kind: 'forecast',
          version,
          createdMillis: message.issuedAtMillis,
          metadata: { model: result.model, stepMillis: result.stepMillis, horizonSteps: points.length, historyPoints: values.length, mase: result.backtest.mase, smape: result.backtest.smape },
          backtestScore: result.backtest.mase,
          artifact: { model: result.model, points },
        },
        config.keepModelVersions,
      );
      await writer.xadd(keys.forecasts, 'MAXLEN', '~', this.options.maxLength, '*', ...encodeJsonMessage(parsed));
      // A series evicted or handed to another shard while it was being forecast has had its gauges dropped:
      // setting them again would leave a forecast on `/metrics` that nothing ever takes off.
      if (this.options.table.peek(state.seriesId) === state) metrics.setForecast({ series: state.seriesId, agent: state.agentId, metric: state.metric }, points);
      metrics.forecastsPublished += 1;
    } catch (error) {
      metrics.forecastFailures += 1;
      logger.warn({ err: error, series: state.seriesId }, 'publishing a forecast failed');
    }
  }
}
