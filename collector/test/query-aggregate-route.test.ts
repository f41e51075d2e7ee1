import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApi, parseTokenSpec, silentLogger, TokenSet } from '@sloth/core';
import { registerAggregateRoute } from '../src/query-aggregate-route.js';
import { SqliteStore } from '../src/store/sqlite-store.js';
import { batch, point } from './store/fixtures.js';

const now = Date.UTC(2026, 0, 1, 12, 0, 0);
const token = 'aggregate-route-test-token-0123456789';
let dir: string;
let store: SqliteStore;
let app: FastifyInstance;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sloth-aggregate-route-'));
  store = SqliteStore.open({ dataDir: dir, retentionMillis: 3650 * 86_400_000, pruneIntervalMillis: 0 });
  const metrics = [];
  for (const [agentId, base] of [['host-a', 10], ['host-b', 30]] as const) {
    for (let i = 0; i < 60; i += 1) metrics.push(point({ name: 'load', agentId, t: now - 3_600_000 + i * 60_000, v: base + (i % 5) }));
  }
  store.write([batch({ metrics })], 1);
  app = createApi({ name: 'collector', tokens: new TokenSet([parseTokenSpec(`${token}:reader`)]), logger: silentLogger() });
  registerAggregateRoute(app, { store, nowMillis: () => now });
  await app.ready();
});

afterAll(async () => {
  await app.close();
  store.close();
  rmSync(dir, { recursive: true, force: true });
});

async function get(url: string, auth = true): Promise<{ statusCode: number; body: Record<string, unknown> }> {
  const response = await app.inject({ method: 'GET', url, headers: auth ? { authorization: `Bearer ${token}` } : {} });
  return { statusCode: response.statusCode, body: response.json<Record<string, unknown>>() };
}

describe('GET /api/v1/query', () => {
  it('answers what store.aggregate computes, with the query echoed', async () => {
    const { statusCode, body } = await get('/api/v1/query?name=load&agg=avg&by=agent&from=-1h&to=now&step=10m');
    expect(statusCode).toBe(200);
    const direct = store.aggregate({ name: 'load', agg: 'avg', by: ['agent'], fromMillis: now - 3_600_000, toMillis: now, stepMillis: 600_000 });
    expect(body).toEqual({ name: 'load', agg: 'avg', by: ['agent'], fromMillis: now - 3_600_000, toMillis: now, stepMillis: 600_000, series: 2, groups: direct.groups });
    // Each 10-minute step holds values base+0..4, base+0..4: the last of each step is base + 4 at minute 9, 19, ….
    expect(direct.groups.map((g) => [g.labels.agent, g.points[0]])).toEqual([
      ['host-a', { t: now - 3_600_000, v: 14 }],
      ['host-b', { t: now - 3_600_000, v: 34 }],
    ]);
    const total = await get('/api/v1/query?name=load&agg=sum&from=-1h&to=now&step=10m');
    expect((total.body.groups as Array<{ points: Array<{ v: number }> }>)[0]?.points[0]?.v).toBe(48);
  });

  it('filters by agent and label', async () => {
    const { body } = await get('/api/v1/query?name=load&agg=count&agent=host-b&label=agent%3Dhost-b&from=-1h&to=now&step=30m');
    expect(body.series).toBe(1);
    expect(body.groups).toEqual([{ labels: {}, series: 1, points: [{ t: now - 3_600_000, v: 1 }, { t: now - 1_800_000, v: 1 }] }]);
  });

  it('needs a token, whatever the spelling of the path', async () => {
    for (const url of ['/api/v1/query?name=load&agg=sum', '/%61pi/v1/query?name=load&agg=sum', '/API/v1//query/?name=load&agg=sum']) {
      const { statusCode, body } = await get(url, false);
      expect(statusCode, url).toBe(401);
      expect(body.code).toBe('SLOTH_ERR_AUTH');
    }
  });

  it.each([
    ['an unknown agg', '/api/v1/query?name=load&agg=median', /query parameter "agg" = "median" is not an aggregation: use one of sum, avg, min, max, count, rate/],
    ['from after to', '/api/v1/query?name=load&agg=sum&from=-1h&to=-2h', /query parameter "from" = "-1h" is after "to"/],
    ['a step too small for the range', '/api/v1/query?name=load&agg=sum&from=-2d&to=now&step=1s', /query parameter "step" = "1s" gives 172801 points over the range; at most 11000 are allowed: use a step of at least 16s or a shorter range/],
    ['a step that is not a duration', '/api/v1/query?name=load&agg=sum&step=fast', /query parameter "step" = "fast" is not a duration/],
    ['a time that is not a time', '/api/v1/query?name=load&agg=sum&from=yesterday', /query parameter "from" = "yesterday" is not a time/],
    ['an empty label name in by', '/api/v1/query?name=load&agg=sum&by=agent,,cpu', /query parameter "by" = "agent,,cpu" has an empty label name/],
    ['a malformed label filter', '/api/v1/query?name=load&agg=sum&label=agent', /query parameter "label" = "agent" must look like key=value/],
    ['rate on a gauge', '/api/v1/query?name=load&agg=rate', /agg "rate" needs a monotonic sum \(a counter\); metric "load" is a gauge/],
  ])('%s is a 400 naming the problem', async (_what, url, message) => {
    const { statusCode, body } = await get(url);
    expect(statusCode).toBe(400);
    expect(body.code).toBe('SLOTH_ERR_BAD_REQUEST');
    expect(body.message).toMatch(message);
  });

  it('a missing name or agg and an unknown parameter are 400 too', async () => {
    expect((await get('/api/v1/query?agg=sum')).statusCode).toBe(400);
    expect((await get('/api/v1/query?name=load')).statusCode).toBe(400);
    expect((await get('/api/v1/query?name=load&agg=sum&bogus=1')).statusCode).toBe(400);
  });
});
