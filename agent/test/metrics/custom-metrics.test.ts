import { MeterProvider } from '@opentelemetry/sdk-metrics';
import { describe, expect, it } from 'vitest';
import { CustomMetrics } from '../../src/index.js';
import { PrometheusReader } from '../../src/metrics/prometheus-reader.js';

describe('CustomMetrics bounds', () => {
  it('refuses more than 16 attributes, names that are not label names and values over 256 bytes, naming the metric and attribute', () => {
    const m = new CustomMetrics();
    const many = Object.fromEntries(Array.from({ length: 17 }, (_, i) => [`k${i}`, i]));
    expect(() => m.gauge('wide', 1, many)).toThrow(/metric wide has 17 attributes \(limit 16\)/);
    expect(() => m.gauge('bad.key', 1, { 'http.method': 'GET' })).toThrow(/metric bad\.key: invalid attribute name "http\.method"/);
    expect(() => m.gauge('sloth.evil', 1, { __name__: 'zz' })).toThrow(/metric sloth\.evil: invalid attribute name "__name__"/);
    expect(() => m.histogram('sloth.evil.h', 1, { le: '1' })).toThrow(/invalid attribute name "le"/);
    expect(() => m.gauge('leak.g1', 1, { k: 'P'.repeat(8000) })).toThrow(/metric leak\.g1: attribute k is 8000 bytes long \(limit 256\)/);
    expect(() => m.gauge('leak.g2', 1, { k: 'é'.repeat(129) })).toThrow(/attribute k is 258 bytes long/);
    // A refused point creates nothing.
    expect(m.names()).toEqual([]);
    m.gauge('ok', 1, { k: 'P'.repeat(256), _private: true, n: 3 });
    expect(m.latest('ok', { k: 'P'.repeat(256), _private: true, n: 3 })).toBe(1);
  });

  it('keeps at most 100 attribute sets per metric: new ones are refused, existing ones keep working', () => {
    const m = new CustomMetrics();
    for (let i = 0; i < 100; i++) m.gauge('leak.g1', i, { k: `v${i}` });
    expect(() => m.gauge('leak.g1', 1, { k: 'v100' })).toThrow(/metric leak\.g1 already has 100 attribute sets \(limit 100\)/);
    m.gauge('leak.g1', 42, { k: 'v7' });
    expect(m.latest('leak.g1', { k: 'v7' })).toBe(42);
    expect(m.latest('leak.g1', { k: 'v100' })).toBeUndefined();
    // Other names are not affected.
    m.counter('other', 1, { k: 'v100' });
    expect(m.latest('other', { k: 'v100' })).toBe(1);
  });

  it('keeps at most 2,000 series over all names', () => {
    const m = new CustomMetrics();
    for (let n = 0; n < 20; n++) for (let i = 0; i < 100; i++) m.counter(`c${n}`, 1, { i });
    expect(() => m.counter('c20', 1, { i: 0 })).toThrow(/too many custom metric series \(limit 2000 for all names\)/);
    m.counter('c3', 1, { i: 5 });
    expect(m.latest('c3', { i: 5 })).toBe(2);
  });

  it("never puts a reserved label name on the agent's /metrics", async () => {
    const reader = new PrometheusReader('host-a');
    const provider = new MeterProvider({ readers: [reader] });
    const m = new CustomMetrics(provider.getMeter('sloth-agent-custom'));
    try {
      expect(() => m.gauge('sloth.evil', 1, { __name__: 'zz', le: '1' })).toThrow(/invalid attribute name/);
      m.gauge('sloth.good', 1, { zone: 'a' });
      const text = await reader.render();
      expect(text).toContain('sloth_good{agent="host-a",zone="a"} 1');
      expect(text).not.toMatch(/__name__|le="1"|sloth_evil/);
    } finally {
      await provider.shutdown();
    }
  });
});
