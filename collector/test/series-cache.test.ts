import { describe, expect, it } from 'vitest';
import type { MetricSeries } from '../src/records.js';
import { SeriesCache, SeriesObjects, StringInterner, type SeriesTrieNode } from '../src/series-cache.js';

function seriesOf(key: string): MetricSeries {
  return { key, name: 'm', labels: {}, agentId: 'a', kind: 'gauge', unit: '', description: '', monotonic: false };
}

function walk(root: SeriesTrieNode, attributes: ReadonlyArray<[string, string]>): SeriesTrieNode {
  let node = root;
  for (const [key, value] of attributes) node = SeriesCache.step(node, key, value);
  return node;
}

describe('SeriesCache', () => {
  it('finds the same node for the same attributes and different nodes for any other attribute walk', () => {
    const cache = new SeriesCache();
    const root = cache.forMetric('agent-1', 'system.cpu.time', 'sum', 's');
    const a = walk(root, [['cpu', '0'], ['state', 'user']]);
    expect(walk(root, [['cpu', '0'], ['state', 'user']])).toBe(a);
    const others = [
      walk(root, [['cpu', '0'], ['state', 'idle']]),
      walk(root, [['cpu', '1'], ['state', 'user']]),
      // Another key after the same prefix, and the same attributes in another order: their own paths.
      walk(root, [['cpu', '0'], ['mode', 'user']]),
      walk(root, [['state', 'user'], ['cpu', '0']]),
      walk(root, [['cpu', '0']]),
    ];
    expect(new Set([a, ...others]).size).toBe(6);
    // Every path is found again after the others were added.
    expect(walk(root, [['cpu', '0'], ['mode', 'user']])).toBe(others[2]);
    expect(walk(root, [['state', 'user'], ['cpu', '0']])).toBe(others[3]);
    expect(walk(root, [['cpu', '0'], ['state', 'user']])).toBe(a);
  });

  it('keeps a series on its node and builds it once', () => {
    const cache = new SeriesCache();
    const node = walk(cache.forMetric('agent-1', 'm', 'gauge', ''), [['k', 'v']]);
    let builds = 0;
    const first = cache.series(node, () => (builds++, seriesOf('m{k="v"}')));
    expect(cache.series(node, () => (builds++, seriesOf('other')))).toBe(first);
    expect(builds).toBe(1);
    expect(cache.size).toBe(1);
  });

  it('starts over when full, so a flood of new series cannot grow it without bound', () => {
    const cache = new SeriesCache(2);
    for (const v of ['1', '2', '3']) cache.series(walk(cache.forMetric('a', 'm', 'gauge', ''), [['k', v]]), () => seriesOf(v));
    expect(cache.size).toBe(1);
  });
});

describe('SeriesObjects', () => {
  it('returns every object added under a key once, then nothing', () => {
    const objects = new SeriesObjects();
    const one = seriesOf('x');
    const two = seriesOf('x');
    const other = seriesOf('y');
    objects.add(one);
    objects.add(other);
    expect(objects.take('y')).toEqual([other]);
    objects.add(two);
    expect(objects.take('x')).toStrictEqual([one, two]);
    expect(objects.take('x')).toEqual([]);
  });
});

describe('StringInterner', () => {
  it('hands out one copy of equal strings, and stops taking new ones when full', () => {
    const strings = new StringInterner(2);
    const a = strings.intern(['sys', 'tem.cpu'].join(''));
    expect(strings.intern('system.cpu')).toBe(a);
    strings.intern('b');
    strings.intern('c');
    expect(strings.size).toBe(2);
    expect(strings.intern('c')).toBe('c');
  });

  it('interns a series without changing what it says', () => {
    const strings = new StringInterner();
    const series = { ...seriesOf('k'), labels: { cpu: '0', agent: 'a' }, unit: 's', description: 'CPU time' };
    const copy = strings.series(series);
    expect(copy).toEqual(series);
    expect(copy).not.toBe(series);
    expect(strings.size).toBe(5); // 0, a (label and agent id), m, s, CPU time
  });
});
