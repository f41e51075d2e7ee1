import { seriesId, type Labels } from '@sloth/core';

/** A series' canonical key and labels. */
export interface SeriesIdentity {
  readonly seriesKey: string;
  readonly labels: Labels;
}

/**
 * One step of the attribute trie: attribute key → attribute value → next
 * step. The identity sits on the node reached after the last attribute.
 */
export interface SeriesTrieNode {
  identity?: SeriesIdentity;
  children?: Map<string, Map<string, SeriesTrieNode>>;
}

/**
 * Remembers the canonical key and label object of recently seen series.
 * Agents send the same series every interval, so most points skip sorting and
 * escaping labels, and they all share one key string (whose hash V8 caches),
 * which makes every later Map lookup cheaper. Per agent and metric, a trie
 * walks the attributes in the order sent, so a hit allocates nothing.
 * Pure: the result depends only on the input, so one cache can serve all.
 */
export class SeriesCache {
  private metrics = new Map<string, Map<string, SeriesTrieNode>>();
  private entries = 0;
  private readonly maxEntries: number;

  /** @param maxEntries series kept before the cache starts over. @defaultValue 200,000 */
  constructor(maxEntries = 200_000) {
    this.maxEntries = maxEntries;
  }

  /** The trie root of one agent's metric; look it up once per metric, not per point. */
  forMetric(agentId: string, name: string): SeriesTrieNode {
    let byName = this.metrics.get(agentId);
    if (byName === undefined) {
      byName = new Map();
      this.metrics.set(agentId, byName);
    }
    let root = byName.get(name);
    if (root === undefined) {
      root = {};
      byName.set(name, root);
    }
    return root;
  }

  /** The node after one more attribute. */
  static step(node: SeriesTrieNode, key: string, value: string): SeriesTrieNode {
    let byValue = node.children?.get(key);
    if (byValue === undefined) {
      byValue = new Map();
      (node.children ??= new Map()).set(key, byValue);
    }
    let next = byValue.get(value);
    if (next === undefined) {
      next = {};
      byValue.set(value, next);
    }
    return next;
  }

  /** The identity at the end of an attribute walk; `build` makes the labels on a miss. */
  identity(node: SeriesTrieNode, name: string, build: () => Record<string, string>): SeriesIdentity {
    if (node.identity !== undefined) return node.identity;
    const labels = build();
    const identity: SeriesIdentity = { seriesKey: seriesId(name, labels), labels };
    if (this.entries >= this.maxEntries) {
      this.metrics = new Map();
      this.entries = 0;
    }
    node.identity = identity;
    this.entries += 1;
    return identity;
  }

  get size(): number {
    return this.entries;
  }
}
