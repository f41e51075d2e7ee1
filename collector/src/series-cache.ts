import { seriesId, type Labels } from '@sloth/core';

/** A series' canonical key and labels. */
export interface SeriesIdentity {
  readonly seriesKey: string;
  readonly labels: Labels;
}

/**
 * Remembers the canonical key and label object of recently seen series, keyed
 * by the attributes as sent. Agents send the same series every interval, so
 * most points skip sorting and escaping labels, and they all share one key
 * string (whose hash V8 caches), which makes every later Map lookup cheaper.
 * Pure: the result depends only on the input, so one cache can serve all.
 */
export class SeriesCache {
  private entries = new Map<string, SeriesIdentity>();
  private readonly maxEntries: number;

  /** @param maxEntries entries kept before the cache starts over. @defaultValue 500,000 */
  constructor(maxEntries = 500_000) {
    this.maxEntries = maxEntries;
  }

  /**
   * `rawKey` must identify name, agent and attributes uniquely (the caller
   * builds it from the attributes in the order sent); `build` makes the
   * labels on a miss.
   */
  resolve(rawKey: string, name: string, build: () => Record<string, string>): SeriesIdentity {
    const hit = this.entries.get(rawKey);
    if (hit !== undefined) return hit;
    const labels = build();
    const identity: SeriesIdentity = { seriesKey: seriesId(name, labels), labels };
    if (this.entries.size >= this.maxEntries) this.entries = new Map();
    this.entries.set(rawKey, identity);
    return identity;
  }

  get size(): number {
    return this.entries.size;
  }
}
