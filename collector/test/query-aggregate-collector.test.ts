import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '@sloth/core';
import { loadCollectorConfig, startCollector } from '../src/index.js';
import { encodeMetricsRequest, gaugeRequestObject } from './helpers/otlp-requests.js';

// GET /api/v1/query on a real collector: OTLP in over HTTP, the store writer thread, the read-only reader, bearer tokens.
let dir: string;
let collector: Awaited<ReturnType<typeof startCollector>>;
const tokens = { 'web-1': 'query-collector-token-web-1', 'web-2': 'query-collector-token-web-2' } as const;
const stepMillis = 60_000;
/** Start of a whole minute a few minutes ago, so every point is in the past and steps line up. */
const fromMillis = Math.floor((Date.now() - 6 * 60_000) / stepMillis) * stepMillis;
/** What each series was sent: agent → core → [t, v]. */
const sent: Record<string, Record<string, Array<[number, number]>>> = {};

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sloth-query-collector-'));
  const settings = loadCollectorConfig({
    file: undefined,
    env: {},
    flags: { dataDir: join(dir, 'data'), port: 0, metricsPort: 0, host: '127.0.0.1', publishSamples: false, tokens: Object.entries(tokens).map(([name, token]) => ({ token, name })) },
  });
  collector = await startCollector(settings, { logger: silentLogger() });
  for (const [agent, token] of Object.entries(tokens)) {
    const points: Array<{ attributes: Record<string, string>; value: number; timeMillis: number }> = [];
    for (const core of ['0', '1']) {
      for (let i = 0; i < 30; i += 1) {
        const t = fromMillis + i * 10_000 + 1_000;
        const v = (agent === 'web-1' ? 10 : 100) + Number(core) * 5 + (i % 7);
        points.push({ attributes: { core }, value: v, timeMillis: t });
        ((sent[agent] ??= {})[core] ??= []).push([t, v]);
      }
    }
    const response = await fetch(`${collector.urls.otlpUrl}/v1/metrics`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-protobuf', authorization: `Bearer ${token}` },
      body: encodeMetricsRequest(gaugeRequestObject({ agent, name: 'app.load', points })),
    });
    expect(response.status).toBe(200);
  }
});

afterAll(async () => {
  await collector.shutdown();
  rmSync(dir, { recursive: true, force: true });
});

describe('GET /api/v1/query on a running collector', () => {
  it('sums by agent what the agents sent (each series\' last value per step)', async () => {
    const to = fromMillis + 5 * stepMillis - 1;
    const response = await fetch(`${collector.urls.otlpUrl}/api/v1/query?name=app.load&agg=sum&by=agent&from=${fromMillis}&to=${to}&step=1m`, { headers: { authorization: `Bearer ${tokens['web-2']}` } });
    expect(response.status).toBe(200);
    const body = (await response.json()) as { series: number; groups: Array<{ labels: Record<string, string>; series: number; points: Array<{ t: number; v: number }> }> };
    expect(body.series).toBe(4);
    const expected = Object.entries(sent).map(([agent, cores]) => {
      const perStep = new Map<number, number>();
      for (const points of Object.values(cores)) {
        const last = new Map<number, number>();
        for (const [t, v] of points) if (t <= to) last.set(fromMillis + Math.floor((t - fromMillis) / stepMillis) * stepMillis, v);
        for (const [t, v] of last) perStep.set(t, (perStep.get(t) ?? 0) + v);
      }
      return { labels: { agent }, series: 2, points: [...perStep].sort((a, b) => a[0] - b[0]).map(([t, v]) => ({ t, v })) };
    });
    expect(body.groups).toEqual(expected);
  });

  it('refuses a request without a token (401) and a bad aggregation (400)', async () => {
    const anonymous = await fetch(`${collector.urls.otlpUrl}/api/v1/query?name=app.load&agg=sum`);
    expect(anonymous.status).toBe(401);
    const bad = await fetch(`${collector.urls.otlpUrl}/api/v1/query?name=app.load&agg=p99`, { headers: { authorization: `Bearer ${tokens['web-1']}` } });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { message: string }).message).toMatch(/"agg" = "p99" is not an aggregation/);
  });
});
