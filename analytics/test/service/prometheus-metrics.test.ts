import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { AnalyticsMetrics } from '../../src/service/prometheus-metrics.js';

describe('AnalyticsMetrics', () => {
  it('exposes a bounded forecast: p10/p50/p90 at horizons 1, 6 and 12 only, whatever the forecast length', async () => {
    const metrics = new AnalyticsMetrics();
    const points = Array.from({ length: 36 }, (_, i) => ({ p10: i, p50: i + 0.5, p90: i + 1 }));
    metrics.setForecast({ series: 's1', agent: 'a1', metric: 'm' }, points);
    metrics.setForecast({ series: 's2', agent: 'a1', metric: 'm' }, points.slice(0, 4));
    const text = await metrics.render();
    const forecastLines = text.split('\n').filter((l) => l.startsWith('sloth_forecast{'));
    expect(forecastLines).toHaveLength(9 + 3);
    expect(text).toContain('sloth_forecast{series="s1",agent="a1",metric="m",percentile="p90",horizon_steps="12"} 12');
    expect(text).toContain('sloth_forecast{series="s1",agent="a1",metric="m",percentile="p10",horizon_steps="6"} 5');
    expect(text).toContain('sloth_forecast{series="s2",agent="a1",metric="m",percentile="p50",horizon_steps="1"} 0.5');
    expect(text).not.toContain('horizon_steps="2"');
    metrics.dropSeries('s1');
    expect((await metrics.render()).split('\n').filter((l) => l.startsWith('sloth_forecast{'))).toHaveLength(3);
  });

  it('counts with += on plain fields, stamps the last anomaly, and renders text promtool accepts', async () => {
    const metrics = new AnalyticsMetrics();
    metrics.samplesScored += 3;
    metrics.samplesScored += 2;
    metrics.badEntries += 1;
    expect(metrics.samplesScored).toBe(5);
    const before = Date.now() / 1000;
    metrics.anomaliesPublished += 2;
    metrics.lagSeconds = 1.5;
    metrics.setScore({ seriesId: 'cpu{host="a"}', agentId: 'a', metric: 'cpu', lastScoredValue: 0.5 }, 0.75);
    metrics.setScore({ seriesId: 'cpu{host="a"}', agentId: 'a', metric: 'cpu', lastScoredValue: 0.625 }, 0.75);
    const text = await metrics.render();
    expect(text).toContain('sloth_analytics_samples_scored_total 5');
    expect(text).toContain('sloth_analytics_bad_entries_total 1');
    expect(text).toContain('sloth_analytics_anomalies_published_total 2');
    expect(text).toContain('sloth_analytics_lag_seconds 1.5');
    expect(text).toContain('sloth_anomaly_score{series="cpu{host=\\"a\\"}",agent="a",metric="cpu"} 0.75');
    // The value scored, the latest one, beside the score: what the forecast band is drawn against.
    expect(text).toContain('sloth_scored_value{series="cpu{host=\\"a\\"}",agent="a",metric="cpu"} 0.625');
    const stamped = Number(/^sloth_analytics_last_anomaly_timestamp_seconds (\S+)$/m.exec(text)?.[1]);
    expect(stamped).toBeGreaterThanOrEqual(before);
    expect(execFileSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' }).trim()).toBe('');
  });
});
