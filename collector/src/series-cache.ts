import type { MetricSeries } from './records.js';

/**
 * One step of the attribute trie: attribute key → attribute value → next
 * step. The series sits on the node reached after the last attribute.
 * An agent sends a metric's attributes in the same order every time, so a
 * node nearly always sees one next key: that key and its values sit on the
 * node itself, and only other keys get a map of their own. This halves the
 * maps per series (at 200,000 series the trie held 264,000 maps, ~50 MB).
 */
export interface SeriesTrieNode {
  series: MetricSeries | undefined;
  /** The first attribute key seen after this node. */
  key: string | undefined;
  /** Next nodes by the value of `key`. */
  values: Map<string, SeriesTrieNode> | undefined;
  /** Next nodes by any other key, then by its value. */
  others: Map<string, Map<string, SeriesTrieNode>> | undefined;
}

function trieNode(): SeriesTrieNode {
  return { series: undefined, key: undefined, values: undefined, others: undefined };
}

/**
 * Remembers the series object (canonical key, labels, metric metadata) of
 * recently seen series.
 * Agents send the same series every interval, so most points skip sorting and
 * escaping labels, and they all share one key string (whose hash V8 caches),
 * which makes every later Map lookup cheaper. Per agent and metric, a trie
 * walks the attributes in the order sent, so a hit allocates nothing.
 * Pure: the result depends only on the input, so one cache can serve all.
 */
export class SeriesCache {
  /** Shared strings of the series made here. */
  readonly strings = new StringInterner();
  private metrics = new Map<string, Map<string, SeriesTrieNode>>();
  /** Per metric root: its series by the raw bytes of their attributes (the protobuf fast path). */
  private attributeIndexes = new Map<SeriesTrieNode, AttributeBytesIndex>();
  private attributeEntries = 0;
  private entries = 0;
  private readonly maxEntries: number;
  private readonly maxStringChars: number;

  /**
   * @param maxEntries series kept before the cache starts over. @defaultValue 200,000
   * @param maxStringChars longest name, unit, agent id, label key or value kept (see {@link keeps}): at least
   *   the largest size limit, so a series with a longer string breaks one and its points are rejected; it is
   *   never remembered, and a client cannot fill the cache with megabyte strings. @defaultValue no limit
   */
  constructor(maxEntries = 200_000, maxStringChars = Number.POSITIVE_INFINITY) {
    this.maxEntries = maxEntries;
    this.maxStringChars = maxStringChars;
  }

  /** Whether a string this long may be kept (see the constructor). */
  keeps(text: string): boolean {
    return text.length <= this.maxStringChars;
  }

  /**
   * The trie root of one agent's metric; look it up once per metric, not per
   * point. Kind and unit are part of it because the series object carries them.
   */
  forMetric(agentId: string, name: string, kind: string, unit: string): SeriesTrieNode {
    let byName = this.metrics.get(agentId);
    if (byName === undefined) {
      byName = new Map();
      this.metrics.set(agentId, byName);
    }
    const metricKey = `${kind}\u0000${unit}\u0000${name}`;
    let root = byName.get(metricKey);
    if (root === undefined) {
      root = trieNode();
      byName.set(metricKey, root);
    }
    return root;
  }

  /** The index of `root`'s series by attribute bytes, made on first use. */
  attributeIndex(root: SeriesTrieNode): AttributeBytesIndex {
    let index = this.attributeIndexes.get(root);
    if (index === undefined) {
      index = new AttributeBytesIndex();
      this.attributeIndexes.set(root, index);
    }
    return index;
  }

  /**
   * Counts one more remembered attribute encoding; past `maxEntries` the cache starts over as it does
   * for series (a client varying how it encodes the same attributes cannot grow it without bound).
   */
  countAttributeBytes(): void {
    this.attributeEntries += 1;
    if (this.attributeEntries >= this.maxEntries) this.startOver();
  }

  private startOver(): void {
    this.metrics = new Map();
    this.attributeIndexes = new Map();
    this.entries = 0;
    this.attributeEntries = 0;
  }

  /** The node after one more attribute. */
  static step(node: SeriesTrieNode, key: string, value: string): SeriesTrieNode {
    let byValue: Map<string, SeriesTrieNode>;
    if (node.key === key) {
      byValue = node.values as Map<string, SeriesTrieNode>;
    } else if (node.key === undefined) {
      node.key = key;
      byValue = node.values = new Map();
    } else {
      const other = node.others?.get(key);
      if (other === undefined) {
        byValue = new Map();
        (node.others ??= new Map()).set(key, byValue);
      } else {
        byValue = other;
      }
    }
    let next = byValue.get(value);
    if (next === undefined) {
      next = trieNode();
      byValue.set(value, next);
    }
    return next;
  }

  /** The series at the end of an attribute walk; `build` makes it on a miss. */
  series(node: SeriesTrieNode, build: () => MetricSeries): MetricSeries {
    if (node.series !== undefined) return node.series;
    const series = build();
    if (this.entries >= this.maxEntries) this.startOver();
    node.series = series;
    this.entries += 1;
    return series;
  }

  get size(): number {
    return this.entries;
  }
}

interface AttributeBytesEntry {
  /** Where the bytes sit in the index's pool. */
  readonly start: number;
  readonly length: number;
  readonly series: MetricSeries;
  /** Another entry with the same hash. */
  next: AttributeBytesEntry | undefined;
}

/**
 * One metric's series by the exact bytes of their encoded attributes (the
 * protobuf KeyValue fields of a data point, as sent). The caller hashes the
 * bytes; a hit is confirmed byte for byte against a copy kept in one pool per
 * metric, so a hash collision can never hand out another series.
 */
export class AttributeBytesIndex {
  private readonly byHash = new Map<number, AttributeBytesEntry>();
  private pool = new Uint8Array(256);
  private used = 0;

  find(hash: number, bytes: Uint8Array, start: number, end: number): MetricSeries | undefined {
    const length = end - start;
    const pool = this.pool;
    for (let entry = this.byHash.get(hash); entry !== undefined; entry = entry.next) {
      if (entry.length !== length) continue;
      let i = 0;
      const offset = entry.start - start;
      while (i < length && pool[offset + start + i] === bytes[start + i]) i++;
      if (i === length) return entry.series;
    }
    return undefined;
  }

  remember(hash: number, bytes: Uint8Array, start: number, end: number, series: MetricSeries): void {
    const length = end - start;
    if (this.used + length > this.pool.length) {
      const pool = new Uint8Array(Math.max(this.pool.length * 2, this.used + length));
      pool.set(this.pool.subarray(0, this.used));
      this.pool = pool;
    }
    this.pool.set(bytes.subarray(start, end), this.used);
    this.byHash.set(hash, { start: this.used, length, series, next: this.byHash.get(hash) });
    this.used += length;
  }
}

/**
 * The series objects handed out per key (attributes sent in another order
 * make another object with the same key), so that state kept on them (the
 * limiter's admission mark, the store writer's series number) can be cleared
 * when retention removes the series.
 */
export class SeriesObjects {
  /** Nearly every key has one object: it is kept bare, and an array only holds two or more. */
  private readonly byKey = new Map<string, MetricSeries | MetricSeries[]>();

  add(series: MetricSeries): void {
    const objects = this.byKey.get(series.key);
    if (objects === undefined) this.byKey.set(series.key, series);
    else if (Array.isArray(objects)) objects.push(series);
    else this.byKey.set(series.key, [objects, series]);
  }

  /** Forgets the objects of `key` and returns them. */
  take(key: string): readonly MetricSeries[] {
    const objects = this.byKey.get(key);
    this.byKey.delete(key);
    return objects === undefined ? [] : Array.isArray(objects) ? objects : [objects];
  }
}

/**
 * One copy of each repeated string. Every series carries its metric name,
 * agent id, kind, unit and label values, and each decoded request (or each
 * message to the store writer thread) brings its own copies: at 200,000
 * series those copies were ~35 MB per thread. Once full it takes no new
 * strings, so high-cardinality label values cannot grow it without bound.
 */
export class StringInterner {
  private readonly strings = new Map<string, string>();
  private readonly maxEntries: number;

  /** @param maxEntries distinct strings kept. @defaultValue 65,536 */
  constructor(maxEntries = 65_536) {
    this.maxEntries = maxEntries;
  }

  intern(text: string): string {
    const known = this.strings.get(text);
    if (known !== undefined) return known;
    if (this.strings.size < this.maxEntries) this.strings.set(text, text);
    return text;
  }

  /** Interns the values of `labels` in place and returns it. */
  labels(labels: Record<string, string>): Record<string, string> {
    for (const key of Object.keys(labels)) labels[key] = this.intern(labels[key] as string);
    return labels;
  }

  /** A copy of `series` whose strings (but the unique key) are interned; its labels object is changed in place. */
  series(series: MetricSeries): MetricSeries {
    return {
      key: series.key,
      name: this.intern(series.name),
      labels: this.labels(series.labels),
      agentId: this.intern(series.agentId),
      kind: series.kind,
      unit: this.intern(series.unit),
      description: this.intern(series.description),
      monotonic: series.monotonic,
    };
  }

  get size(): number {
    return this.strings.size;
  }
}
