import { seriesId, type Labels } from '@sloth/core';

/** A series' canonical key and labels. */
export interface SeriesIdentity {
  readonly seriesKey: string;
  readonly labels: Labels;
}

/** The identities of one metric of one agent, keyed by the attributes as sent. */
export type MetricSeriesCache = Map<string, SeriesIdentity>;

/**
 * Remembers the canonical key and label object of recently seen series.
 * Agents send the same series every interval, so most points skip sorting
 * and escaping labels, and they all share one key string (whose hash V8
 * caches), which makes every later Map lookup cheaper. Two levels (agent and
 * metric, then attributes) keep the per-point lookup key short.
 * Pure: the result depends only on the input, so one cache can serve all.
 */
export class SeriesCache {
  private metrics = new Map<string, MetricSeriesCache>();
  private entries = 0;
  private readonly maxEntries: number;

  /** @param maxEntries series kept before the cache starts over. @defaultValue 500,000 */
  constructor(maxEntries = 500_000) {
    this.maxEntries = maxEntries;
  }

  /** The cache of one agent's metric; look it up once per metric, not per point. */
  forMetric(agentId: string, name: string): MetricSeriesCache {
    const key = `${agentId}\u0001${name}`;
    let cache = this.metrics.get(key);
    if (cache === undefined) {
      cache = new Map();
      this.metrics.set(key, cache);
    }
    return cache;
  }

  /**
   * `attributesKey` must identify the attributes uniquely within the metric;
   * `build` makes the labels on a miss.
   */
  resolve(cache: MetricSeriesCache, attributesKey: string, name: string, build: () => Record<string, string>): SeriesIdentity {
    const hit = cache.get(attributesKey);
    if (hit !== undefined) return hit;
    const labels = build();
    const identity: SeriesIdentity = { seriesKey: seriesId(name, labels), labels };
    if (this.entries >= this.maxEntries) {
      this.metrics = new Map();
      this.entries = 0;
    }
    cache.set(attributesKey, identity);
    this.entries += 1;
    return identity;
  }

  get size(): number {
    return this.entries;
  }
}
