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
  private entries = 0;
  private readonly maxEntries: number;

  /** @param maxEntries series kept before the cache starts over. @defaultValue 200,000 */
  constructor(maxEntries = 200_000) {
    this.maxEntries = maxEntries;
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
    if (this.entries >= this.maxEntries) {
      this.metrics = new Map();
      this.entries = 0;
    }
    node.series = series;
    this.entries += 1;
    return series;
  }

  get size(): number {
    return this.entries;
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
