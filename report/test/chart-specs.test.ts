import { afterAll, describe, expect, it } from 'vitest';
import type { ChartData } from '../src/model.js';
import { ChartPool } from '../src/pdf/chart-pool.js';
import { chartJob } from '../src/pdf/chart-specs.js';

const pool = new ChartPool(1);
afterAll(async () => pool.shutdown());

function chart(points: number): ChartData {
  const start = Date.UTC(2026, 11, 7, 12);
  return {
    id: 'cpu-web-1',
    title: 'web-1 CPU',
    agentId: 'web-1',
    metric: 'cpu',
    points: Array.from({ length: points }, (_, i) => ({ t: start + i * 3_600_000, min: 0.4, max: 0.6, avg: 0.5 })),
    forecast: [],
    incidentMillis: [],
  };
}

describe('report charts', () => {
  it('draws an agent with one or two buckets of data as dots (a line through them shows nothing); longer history as a line only', async () => {
    const symbols = (svg: string): number => (svg.match(/class="mark-symbol/g) ?? []).length;
    const one = await pool.render(chartJob(chart(1), 'UTC', { widthPx: 400, heightPx: 120 }));
    expect(symbols(one)).toBe(1);
    expect(one).toMatch(/class="mark-symbol[^"]*"[^>]*>\s*<path/);
    const many = await pool.render(chartJob(chart(24), 'UTC', { widthPx: 400, heightPx: 120 }));
    expect(many).not.toMatch(/class="mark-symbol[^"]*"[^>]*>\s*<path/);
  });
});
