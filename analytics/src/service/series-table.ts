import type { Logger, SampleKind } from '@sloth/core';
import type { DetectorOptions, TrainedModel } from '../detector/contract.js';
import { createDetector, restoreDetector } from '../detector/series-detector.js';
import type { ModelRegistry } from './model-registry.js';
import type { AnalyticsMetrics } from './prometheus-metrics.js';
import { modelVersionNumber } from './service-util.js';
import { isPersistedSeriesState, SeriesState } from './series-state.js';

/** What is known of a series seen for the first time: its id, parsed name, agent and kind. */
export interface NewSeries {
  seriesId: string;
  name: string;
  agentId: string;
  kind: SampleKind;
}

export interface SeriesTableOptions {
  registry: ModelRegistry;
  metrics: AnalyticsMetrics;
  logger: Logger;
  maxSeries: number;
  historyPoints: number;
  detectorOptions: Partial<DetectorOptions> | undefined;
}

/**
 * The series this process holds in memory, least recently seen first (Map order is the LRU order):
 * restored from the registry's snapshot when there is one, else new; beyond `maxSeries` the least
 * recently seen is snapshotted and evicted. Writes snapshots of changed series.
 */
export class SeriesTable {
  private readonly options: SeriesTableOptions;
  private readonly series = new Map<string, SeriesState>();
  private snapshotting: Promise<void> | undefined;

  constructor(options: SeriesTableOptions) {
    this.options = options;
  }

  get size(): number {
    return this.series.size;
  }

  has(seriesId: string): boolean {
    return this.series.has(seriesId);
  }

  /** The series' state without touching the LRU order. */
  peek(seriesId: string): SeriesState | undefined {
    return this.series.get(seriesId);
  }

  values(): IterableIterator<SeriesState> {
    return this.series.values();
  }

  /** The state of a series in memory, now the most recently seen; undefined when not in memory. */
  touch(seriesId: string): SeriesState | undefined {
    const existing = this.series.get(seriesId);
    if (existing === undefined) return undefined;
    this.series.delete(seriesId);
    this.series.set(seriesId, existing);
    return existing;
  }

  /** A series not in memory: restored from the registry, else new; `restored` says which. */
  restoreOrCreate(sample: NewSeries): { state: SeriesState; restored: boolean } {
    const { registry, logger } = this.options;
    const make = (detector: SeriesState['detector']): SeriesState =>
      new SeriesState({ seriesId: sample.seriesId, metric: sample.name, agentId: sample.agentId, detector, historyPoints: this.options.historyPoints });
    const stored = registry.loadSnapshot(sample.seriesId);
    let state: SeriesState | undefined;
    if (stored !== undefined && isPersistedSeriesState(stored.snapshot)) {
      try {
        state = make(restoreDetector(stored.snapshot.detector));
        state.restoreFrom(stored.snapshot);
      } catch (error) {
        logger.warn({ err: error, series: sample.seriesId }, 'cannot restore the stored detector state; starting the series afresh');
        state = undefined;
      }
    }
    const restored = state !== undefined;
    state ??= make(createDetector(this.options.detectorOptions));
    if (!restored) state.kind = sample.kind;
    // A model trained after the last snapshot (e.g. just before a crash) is still in the registry.
    const latest = registry.latestModel(sample.seriesId, 'detector');
    if (latest !== undefined && latest.version > modelVersionNumber(state.detector.modelVersion)) {
      try {
        state.detector.installModel(latest.artifact as TrainedModel);
      } catch (error) {
        logger.warn({ err: error, series: sample.seriesId, version: latest.version }, 'cannot install the stored model');
      }
    }
    return { state, restored };
  }

  /** Takes a state into memory as the most recently seen; evicts the least recently seen beyond `maxSeries`. */
  adopt(state: SeriesState): void {
    this.series.set(state.seriesId, state);
    if (this.series.size > this.options.maxSeries) this.evictOldest();
  }

  /** Drops series from memory (their snapshots written first), e.g. when their shard is handed over. */
  release(states: readonly SeriesState[]): void {
    this.writeSnapshots(states.filter((state) => state.dirty));
    for (const state of states) {
      this.series.delete(state.seriesId);
      this.options.metrics.dropSeries(state.seriesId);
    }
  }

  private evictOldest(): void {
    const oldest = this.series.values().next().value;
    if (oldest === undefined) return;
    this.series.delete(oldest.seriesId);
    this.options.metrics.dropSeries(oldest.seriesId);
    this.options.metrics.seriesEvicted += 1;
    if (oldest.dirty) this.writeSnapshots([oldest]);
  }

  /**
   * Writes the snapshots of changed series, 100 per transaction, yielding to the event loop between
   * chunks: thousands of ~60 KB snapshots serialised in one go would stall scoring for seconds.
   */
  async snapshotDirty(): Promise<void> {
    if (this.snapshotting !== undefined) return await this.snapshotting;
    this.snapshotting = (async () => {
      const dirty = [...this.series.values()].filter((s) => s.dirty);
      for (let i = 0; i < dirty.length; i += 100) {
        this.writeSnapshots(dirty.slice(i, i + 100).filter((s) => s.dirty));
        await new Promise((resolve) => setImmediate(resolve));
      }
    })();
    try {
      await this.snapshotting;
    } finally {
      this.snapshotting = undefined;
    }
  }

  private writeSnapshots(states: readonly SeriesState[]): void {
    if (states.length === 0) return;
    const now = Date.now();
    try {
      this.options.registry.saveSnapshots(states.map((s) => ({ seriesId: s.seriesId, agentId: s.agentId, updatedMillis: now, snapshot: s.toPersisted() })));
      for (const s of states) s.dirty = false;
      this.options.metrics.snapshotsWritten += states.length;
    } catch (error) {
      this.options.logger.error({ err: error, count: states.length }, 'writing detector snapshots failed; will retry');
    }
  }
}
