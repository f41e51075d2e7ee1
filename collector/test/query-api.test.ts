import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApi, redisKeys, silentLogger, TokenSet } from '@sloth/core';
import { AgentRegistry } from '../src/agent-registry.js';
import { LatestValues } from '../src/latest-values.js';
import { parseDurationMillis, parseTimeMillis, registerQueryApi } from '../src/query-api.js';
import { SqliteStore } from '../src/store/sqlite-store.js';
import { batch, point, resource } from './store/fixtures.js';

const now = Date.UTC(2026, 0, 1, 12, 0, 0); // 2026-01-01T12:00:00Z
let dir: string;
let store: SqliteStore;
let registry: AgentRegistry;
let app: FastifyInstance;

const load = (t: number, v: number, agentId = 'host-a') => point({ name: 'system.cpu.load_average.1m', agentId, unit: '{thread}', t, v });
const cpu = (t: number, v: number, state: string, agentId = 'host-a') =>
  point({ name: 'system.cpu.utilization', agentId, unit: '1', labels: { 'cpu.state': state, 'cpu.logical_number': '0' }, t, v });

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sloth-query-'));
  store = SqliteStore.open({ dataDir: dir, retentionMillis: 7 * 86_400_000, pruneIntervalMillis: 0 });
  const metrics = [
    load(now - 50_000, 1),
    load(now - 45_000, 3),
    load(now - 39_000, 10),
    load(now - 31_000, 20),
    load(now - 29_000, 7),
    load(now - 10_000, 2, 'host-b'),
    cpu(now - 10_000, 0.2, 'user'),
    cpu(now - 10_000, 0.7, 'idle'),
    cpu(now - 10_000, 0.4, 'user', 'host-b'),
    point({ name: 'http.server.duration', unit: 's', kind: 'histogram', t: now - 5_000, count: 4, sum: 2, bounds: [1], bucketCounts: [3, 1] }),
  ];
  const spans = [
    { traceId: 'aa'.repeat(16), spanId: '01'.repeat(8), parentSpanId: '', name: 'GET /', kind: 2, agentId: 'host-a', serviceName: 'web', startMillis: now - 60_000, endMillis: now - 59_000, statusCode: 0, statusMessage: '', attributes: {} },
    { traceId: 'bb'.repeat(16), spanId: '02'.repeat(8), parentSpanId: '', name: 'POST /', kind: 2, agentId: 'host-b', serviceName: 'web', startMillis: now - 1_000, endMillis: now, statusCode: 2, statusMessage: 'boom', attributes: {} },
  ];
  const logs = [
    { timestampMillis: now - 7_200_000, agentId: 'host-a', serviceName: 'web', severityNumber: 17, severityText: 'ERROR', body: 'old error', traceId: '', spanId: '', attributes: {} },
    { timestampMillis: now - 60_000, agentId: 'host-a', serviceName: 'web', severityNumber: 9, severityText: 'INFO', body: 'started', traceId: '', spanId: '', attributes: {} },
    { timestampMillis: now - 30_000, agentId: 'host-b', serviceName: 'web', severityNumber: 13, severityText: 'WARN', body: 'disk 91% full', traceId: '', spanId: '', attributes: {} },
  ];
  // The registry owns agent state; created first, it does not pick up the wall-clock last-seen the store records on write.
  registry = new AgentRegistry({ store, keys: redisKeys('query-test'), expectedIntervalMillis: 10_000 });
  store.write([batch({ resources: [resource('host-a'), resource('host-b')], metrics, spans, logs })], 1);
  registry.observe([resource('host-a', { 'os.type': 'linux' })], now - 60_000);
  registry.observe([resource('host-b')], now - 1_000);
  registry.check(now);
  const latest = new LatestValues(store.latestPoints());
  app = createApi({ name: 'collector', tokens: new TokenSet([], { insecureNoAuth: true }), logger: silentLogger() });
  registerQueryApi(app, { store, registry, latest, nowMillis: () => now });
  await app.ready();
});

afterAll(async () => {
  await app.close();
  await registry.shutdown();
  store.close();
  rmSync(dir, { recursive: true, force: true });
});

async function get(url: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await app.inject({ method: 'GET', url });
  return { status: response.statusCode, body: response.json() };
}

describe('time parameters', () => {
  it('parses epoch milliseconds, ISO 8601, now and relative times', () => {
    expect(parseTimeMillis('1700000000000', now)).toBe(1_700_000_000_000);
    expect(parseTimeMillis('2026-01-01T11:00:00Z', now)).toBe(now - 3_600_000);
    expect(parseTimeMillis('now', now)).toBe(now);
    expect(parseTimeMillis('-1h', now)).toBe(now - 3_600_000);
    expect(parseTimeMillis('-90s', now)).toBe(now - 90_000);
    expect(parseTimeMillis('yesterday', now)).toBeUndefined();
    expect(parseTimeMillis('2026-13-45', now)).toBeUndefined();
    expect(parseDurationMillis('5m')).toBe(300_000);
    expect(parseDurationMillis('250')).toBe(250);
    expect(parseDurationMillis('5 minutes')).toBeUndefined();
  });
});

describe('query API', () => {
  it('GET /api/v1/agents lists agents with state', async () => {
    const { status, body } = await get('/api/v1/agents');
    expect(status).toBe(200);
    expect(body).toEqual({
      agents: [
        { id: 'host-a', principal: 'test', state: 'down', firstSeenMillis: now - 60_000, lastSeenMillis: now - 60_000, attributes: { 'host.name': 'host-a', 'os.type': 'linux' } },
        { id: 'host-b', principal: 'test', state: 'up', firstSeenMillis: now - 1_000, lastSeenMillis: now - 1_000, attributes: { 'host.name': 'host-b' } },
      ],
    });
  });

  it('GET /api/v1/series filters by name, agent and repeated labels', async () => {
    const byName = await get('/api/v1/series?name=system.cpu.utilization');
    expect((byName.body.series as Array<{ key: string }>).map((s) => s.key)).toEqual([
      'system.cpu.utilization{agent="host-a",cpu.logical_number="0",cpu.state="idle"}',
      'system.cpu.utilization{agent="host-a",cpu.logical_number="0",cpu.state="user"}',
      'system.cpu.utilization{agent="host-b",cpu.logical_number="0",cpu.state="user"}',
    ]);
    const filtered = await get('/api/v1/series?agent=host-a&label=cpu.state%3Duser&label=cpu.logical_number%3D0');
    expect(filtered.body).toEqual({
      series: [
        {
          key: 'system.cpu.utilization{agent="host-a",cpu.logical_number="0",cpu.state="user"}',
          name: 'system.cpu.utilization',
          agentId: 'host-a',
          kind: 'gauge',
          unit: '1',
          labels: { 'cpu.state': 'user', 'cpu.logical_number': '0', agent: 'host-a' },
        },
      ],
    });
    expect(((await get('/api/v1/series?limit=2')).body.series as unknown[]).length).toBe(2);
  });

  it('GET /api/v1/samples returns raw points and step aggregations', async () => {
    const key = encodeURIComponent(load(0, 0).seriesKey);
    const raw = await get(`/api/v1/samples?series=${key}&from=-45s`);
    expect(raw.status).toBe(200);
    expect(raw.body.points).toEqual([
      { t: now - 45_000, v: 3 },
      { t: now - 39_000, v: 10 },
      { t: now - 31_000, v: 20 },
      { t: now - 29_000, v: 7 },
    ]);
    expect(raw.body.series).toMatchObject({ name: 'system.cpu.load_average.1m', agentId: 'host-a', kind: 'gauge' });
    // Buckets of 10 s from now-50s: [−50,−40) holds 1,3; [−40,−30) holds 10,20; [−30,−20) holds 7.
    const from = new Date(now - 50_000).toISOString();
    const avg = await get(`/api/v1/samples?series=${key}&from=${from}&to=-20001ms&step=10s`);
    expect(avg.body).toMatchObject({ stepMillis: 10_000, agg: 'avg', fromMillis: now - 50_000, toMillis: now - 20_001 });
    expect(avg.body.points).toEqual([
      { t: now - 50_000, v: 2 },
      { t: now - 40_000, v: 15 },
      { t: now - 30_000, v: 7 },
    ]);
    const max = await get(`/api/v1/samples?series=${key}&from=${now - 50_000}&to=${now}&step=10000&agg=max`);
    expect((max.body.points as Array<{ v: number }>).map((p) => p.v)).toEqual([3, 20, 7]);
    const last = await get(`/api/v1/samples?series=${key}&from=${now - 50_000}&step=10s&agg=last`);
    expect((last.body.points as Array<{ v: number }>).map((p) => p.v)).toEqual([3, 20, 7]);
    const min = await get(`/api/v1/samples?series=${key}&from=${now - 50_000}&step=1m&agg=min`);
    expect(min.body.points).toEqual([{ t: now - 50_000, v: 1 }]);
  });

  it('GET /api/v1/samples caps an answer at 11,000 points and says so', async () => {
    const many = Array.from({ length: 11_001 }, (_, i) => point({ name: 'dense', t: now - 20_000 + i, v: i }));
    store.write([batch({ metrics: many })], 2);
    const key = encodeURIComponent(many[0]?.seriesKey ?? '');
    const capped = await get(`/api/v1/samples?series=${key}&from=-1m`);
    expect(capped.body.truncated).toBe(true);
    const points = capped.body.points as Array<{ t: number; v: number }>;
    expect([points.length, points[0], points.at(-1)]).toEqual([11_000, { t: now - 20_000, v: 0 }, { t: now - 20_000 + 10_999, v: 10_999 }]);
    const bucketed = await get(`/api/v1/samples?series=${key}&from=${now - 20_000}&to=${now}&step=10s&agg=max`);
    expect(bucketed.body.truncated).toBeUndefined();
    expect(bucketed.body.points).toEqual([
      { t: now - 20_000, v: 9_999 },
      { t: now - 10_000, v: 11_000 },
    ]);
  });

  it('GET /api/v1/samples returns count and sum of histograms', async () => {
    const key = encodeURIComponent(point({ name: 'http.server.duration', t: 0 }).seriesKey);
    const { body } = await get(`/api/v1/samples?series=${key}`);
    expect(body.points).toEqual([{ t: now - 5_000, v: 0.5, count: 4, sum: 2, bounds: [1], bucketCounts: [3, 1] }]);
  });

  it('answers 404 for an unknown series and 400 naming the bad parameter', async () => {
    const unknown = await get('/api/v1/samples?series=nope');
    expect(unknown.status).toBe(404);
    expect(unknown.body.message).toBe('unknown series "nope"');

    const cases: Array<[string, RegExp]> = [
      ['/api/v1/samples', /"series"/],
      ['/api/v1/samples?series=x&from=yesterday', /"from" = "yesterday" is not a time/],
      ['/api/v1/samples?series=x&from=-1h&to=-2h', /"from" = "-1h" is after "to"/],
      ['/api/v1/samples?series=x&step=fast', /"step" = "fast" is not a duration/],
      ['/api/v1/samples?series=x&step=1ms&from=-1d', /"step" = "1ms" gives 86400001 buckets/],
      ['/api/v1/samples?series=x&step=1m&agg=median', /"agg" = "median".*allowed values/],
      ['/api/v1/samples?series=x&agg=max', /"agg" = "max" needs "step"/],
      ['/api/v1/series?limit=abc', /"limit" = "abc".*integer/],
      ['/api/v1/series?limit=0', /"limit" = 0: must be >= 1/],
      ['/api/v1/series?label=novalue', /"label" = "novalue" must look like key=value/],
      ['/api/v1/spans?traceId=xyz', /"traceId" = "xyz"/],
      ['/api/v1/logs?severityMin=loud', /"severityMin" = "loud"/],
      ['/api/v1/logs?since=soon', /"since" = "soon" is not a time/],
      ['/api/v1/series?colour=red', /unknown query parameter "colour"/],
      // As on every route: an unknown parameter is named, its value (here a misplaced token) never repeated.
      ['/api/v1/agents?token=s3cret-in-the-url', /^unknown query parameter "token"$/],
      ['/api/v1/samples?series=x&from=99999999999999999999', /"from" = "99999999999999999999" is out of range/],
      ['/api/v1/samples?series=x&to=-99999999999d', /"to" = "-99999999999d" is out of range/],
    ];
    for (const [url, message] of cases) {
      const { status, body } = await get(url);
      expect({ url, status, code: body.code }).toEqual({ url, status: 400, code: 'SLOTH_ERR_BAD_REQUEST' });
      expect(body.message).toMatch(message);
    }
  });

  it('GET /api/v1/latest returns the newest point of matching series', async () => {
    const { body } = await get('/api/v1/latest?name=system.cpu.load_average.1m');
    expect((body.points as Array<Record<string, unknown>>).map((p) => [p.agentId, p.t, p.v])).toEqual([
      ['host-a', now - 29_000, 7],
      ['host-b', now - 10_000, 2],
    ]);
    const hostB = await get('/api/v1/latest?agent=host-b');
    expect((hostB.body.points as Array<Record<string, unknown>>).map((p) => [p.name, p.v])).toEqual([
      ['system.cpu.load_average.1m', 2],
      ['system.cpu.utilization', 0.4],
    ]);
  });

  it('GET /api/v1/spans and /api/v1/logs filter and order newest first', async () => {
    const spans = await get('/api/v1/spans');
    expect((spans.body.spans as Array<{ name: string }>).map((s) => s.name)).toEqual(['POST /', 'GET /']);
    const byTrace = await get(`/api/v1/spans?traceId=${'aa'.repeat(16)}`);
    expect(byTrace.body.spans).toMatchObject([{ name: 'GET /', agentId: 'host-a', spanId: '01'.repeat(8) }]);
    expect(((await get('/api/v1/spans?since=-10s')).body.spans as Array<{ statusMessage: string }>).map((s) => s.statusMessage)).toEqual(['boom']);
    expect(((await get('/api/v1/spans?agent=host-a&name=GET%20%2F&limit=1')).body.spans as unknown[]).length).toBe(1);

    const logs = await get('/api/v1/logs?since=-1h');
    expect((logs.body.logs as Array<{ body: string }>).map((l) => l.body)).toEqual(['disk 91% full', 'started']);
    expect(((await get('/api/v1/logs?severityMin=13')).body.logs as Array<{ body: string }>).map((l) => l.body)).toEqual(['disk 91% full', 'old error']);
    expect(((await get('/api/v1/logs?contains=91%25&agent=host-b')).body.logs as Array<{ severityText: string }>).map((l) => l.severityText)).toEqual(['WARN']);
    expect(((await get('/api/v1/logs?limit=1')).body.logs as unknown[]).length).toBe(1);
  });
});
