import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { QueryClient } from '../../src/index.js';
import { CollectorHarness } from './collector-harness.js';

const t0 = Date.UTC(2026, 0, 5, 12, 0, 0);

describe('QueryClient against a real collector', () => {
  let collector: CollectorHarness;
  let client: QueryClient;

  beforeAll(async () => {
    collector = await CollectorHarness.start();
    client = new QueryClient({ baseUrl: collector.url, token: collector.token, timeoutMillis: 10_000 });
    const points = [];
    for (let i = 0; i < 60; i++) {
      points.push({ agent: 'web-1', name: 'system.cpu.utilization', value: i / 100, timeMillis: t0 + i * 10_000 });
      points.push({ agent: 'db-1', name: 'system.cpu.utilization', value: 0.5, timeMillis: t0 + i * 10_000 });
    }
    points.push({ agent: 'web-1', name: 'system.memory.utilization', value: 0.61, timeMillis: t0, attributes: { state: 'used' } });
    await collector.sendGauges(points);
  }, 60_000);
  afterAll(async () => collector?.stop());

  it('lists agents and series with typed fields', async () => {
    const agents = await client.agents();
    expect(agents.ok).toBe(true);
    if (!agents.ok) return;
    expect(agents.value.map((a) => a.id).sort()).toEqual(['db-1', 'web-1']);
    const series = await client.series({ name: 'system.cpu.utilization' });
    expect(series.ok && series.value.map((s) => s.agentId)).toEqual(['db-1', 'web-1']);
    const memory = await client.series({ agent: 'web-1', labels: { state: 'used' } });
    expect(memory.ok && memory.value.map((s) => s.name)).toEqual(['system.memory.utilization']);
  });

  it('reads raw samples and step buckets of one series', async () => {
    const series = await client.series({ name: 'system.cpu.utilization', agent: 'web-1' });
    if (!series.ok) throw new Error(series.message);
    const key = series.value[0]?.key as string;
    const raw = await client.samples({ series: key, from: t0, to: t0 + 600_000 });
    if (!raw.ok) throw new Error(raw.message);
    expect(raw.value.points).toHaveLength(60);
    expect(raw.value.points[59]).toEqual({ t: t0 + 590_000, v: 0.59 });
    const buckets = await client.samples({ series: key, from: t0, to: t0 + 599_999, step: 60_000, agg: 'max' });
    if (!buckets.ok) throw new Error(buckets.message);
    expect(buckets.value.points.map((p) => p.v)).toEqual([0.05, 0.11, 0.17, 0.23, 0.29, 0.35, 0.41, 0.47, 0.53, 0.59]);
    const all = await client.allSamples(key, t0, t0 + 600_000);
    expect(all.ok && all.value.points.length).toBe(60);
  });

  it('aggregates one metric across series on the server, grouped by agent', async () => {
    const result = await client.aggregate({ name: 'system.cpu.utilization', agg: 'max', by: ['agent'], from: t0, to: t0 + 599_999, step: 300_000 });
    if (!result.ok) throw new Error(result.message);
    expect(result.value.groups.map((g) => [g.labels.agent, g.points.map((p) => p.v)])).toEqual([
      ['db-1', [0.5, 0.5]],
      ['web-1', [0.29, 0.59]],
    ]);
    const count = await client.aggregate({ name: 'system.cpu.utilization', agg: 'count', from: t0, to: t0 + 599_999, step: 300_000 });
    expect(count.ok && count.value.groups[0]?.points.map((p) => p.v)).toEqual([2, 2]);
    const bad = await client.aggregate({ name: 'system.cpu.utilization', agg: 'median' as 'max' });
    expect(!bad.ok && [bad.kind, bad.code]).toEqual(['bad-request', 'SLOTH_ERR_BAD_REQUEST']);
    expect(!bad.ok && bad.message).toContain('median');
  });

  it('reads the latest points', async () => {
    const latest = await client.latest({ name: 'system.cpu.utilization', agent: 'web-1' });
    expect(latest.ok && latest.value.map((p) => p.v)).toEqual([0.59]);
  });

  it('reads spans and logs (empty here) through their schemas', async () => {
    const spans = await client.spans({ limit: 5 });
    const logs = await client.logs({ since: '-1h' });
    expect(spans.ok && spans.value).toEqual([]);
    expect(logs.ok && logs.value).toEqual([]);
  });

  it('returns the server error for a bad parameter and an unknown series', async () => {
    const bad = await client.samples({ series: 'x', from: 'yesterday' });
    expect(bad.ok).toBe(false);
    if (bad.ok) return;
    expect(bad.kind).toBe('bad-request');
    expect(bad.code).toBe('SLOTH_ERR_BAD_REQUEST');
    expect(bad.message).toContain('yesterday');
    const missing = await client.samples({ series: 'no.such.series{agent="x"}' });
    expect(!missing.ok && [missing.kind, missing.code, missing.status]).toEqual(['not-found', 'SLOTH_ERR_NOT_FOUND', 404]);
  });

  it('says unauthorized without echoing the token', async () => {
    const wrong = new QueryClient({ baseUrl: collector.url, token: 'wrong-secret-value' });
    const result = await wrong.agents();
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.kind).toBe('unauthorized');
    expect(result.retryable).toBe(false);
    expect(result.message).toContain('rejected the token');
    expect(result.message).not.toContain('wrong-secret-value');
    const none = await new QueryClient({ baseUrl: collector.url }).agents();
    expect(!none.ok && none.message).toContain('requires a token');
  });
});

describe('QueryClient failures without a collector', () => {
  let server: Server;
  let url = '';
  beforeAll(async () => {
    // Answers /slow never and everything else with a body of the wrong shape.
    server = createServer((request, response) => {
      if (request.url?.startsWith('/api/v1/agents') === true) {
        response.setHeader('content-type', 'application/json');
        response.end(JSON.stringify({ agents: [{ id: 7 }] }));
      } else if (request.url?.startsWith('/api/v1/latest?name=bad') === true) {
        const point = { key: 'm{agent="a"}', name: 'm', agentId: 'a', kind: 'gauge', unit: '1', labels: {}, t: 1, v: 0.5 };
        response.setHeader('content-type', 'application/json');
        response.end(JSON.stringify({ points: [point, { ...point, labels: { cpu: 3 } }] }));
      } else if (request.url?.startsWith('/api/v1/latest?name=good') === true) {
        response.setHeader('content-type', 'application/json');
        response.end(JSON.stringify({ points: [{ key: 'm{agent="a"}', name: 'm', agentId: 'a', kind: 'sum', unit: '1', labels: { cpu: '3' }, t: 1, v: null, count: 2, extra: true }] }));
      }
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });

  it('refuses a collector URL carrying a user name or password, without repeating them', async () => {
    // fetch refuses such a URL with an error that quotes it whole: every failed query would log the password.
    const attempt = async (): Promise<string> => {
      try {
        const result = await new QueryClient({ baseUrl: 'http://reader:hunter2-secret@127.0.0.1:1' }).agents();
        return result.ok ? 'ok' : result.message;
      } catch (error) {
        return (error as Error).message;
      }
    };
    const message = await attempt();
    expect(message).toContain('must not carry a user name or password');
    expect(message).not.toContain('hunter2-secret');
    expect(() => new QueryClient({ baseUrl: 'redis://:hunter2-secret@127.0.0.1:6379' })).toThrow(/must start with http/);
    expect(() => new QueryClient({ baseUrl: 'redis://:hunter2-secret@127.0.0.1:6379' })).not.toThrow(/hunter2/);
    expect(() => new QueryClient({ baseUrl: 'not a url :hunter2-secret@x' })).not.toThrow(/hunter2/);
  });

  it('names an unreachable collector', async () => {
    const result = await new QueryClient({ baseUrl: 'http://127.0.0.1:1' }).agents();
    expect(!result.ok && [result.kind, result.retryable]).toEqual(['unreachable', true]);
    expect(!result.ok && result.message).toContain('cannot reach the collector at http://127.0.0.1:1');
  });

  it('times out a collector that does not answer', async () => {
    const result = await new QueryClient({ baseUrl: url, timeoutMillis: 200 }).latest();
    expect(!result.ok && result.kind).toBe('timeout');
  });

  it('rejects an answer of the wrong shape, naming the field', async () => {
    const result = await new QueryClient({ baseUrl: url }).agents();
    expect(!result.ok && result.kind).toBe('invalid-response');
    expect(!result.ok && result.message).toContain('agents.0.id');
  });

  it('checks latest points by hand as the schema does: extra fields pass, a bad label value is named', async () => {
    const good = await new QueryClient({ baseUrl: url }).latest({ name: 'good' });
    expect(good.ok && good.value.map((p) => [p.labels.cpu, p.v, p.count])).toEqual([['3', null, 2]]);
    const bad = await new QueryClient({ baseUrl: url }).latest({ name: 'bad' });
    expect(!bad.ok && bad.kind).toBe('invalid-response');
    expect(!bad.ok && bad.message).toContain('at "points.1.labels.cpu": expected string, received number');
  });

  it('refuses a base URL that is not http(s)', () => {
    expect(() => new QueryClient({ baseUrl: 'ftp://x' })).toThrow(/http:\/\//);
    expect(() => new QueryClient({ baseUrl: 'not a url' })).toThrow(/not a URL/);
  });
});

describe('QueryClient requests in flight', () => {
  it('sends at most maxInFlight requests at once and queues the rest (a role asking for every rule at once stays under the per-client cap)', async () => {
    let inFlight = 0;
    let most = 0;
    const server = createServer((_request, response) => {
      inFlight += 1;
      most = Math.max(most, inFlight);
      setTimeout(() => {
        inFlight -= 1;
        response.setHeader('content-type', 'application/json');
        response.end(JSON.stringify({ agents: [] }));
      }, 20);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const client = new QueryClient({ baseUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, maxInFlight: 3, timeoutMillis: 2_000 });
      const results = await Promise.all(Array.from({ length: 20 }, () => client.agents()));
      expect(results.every((r) => r.ok)).toBe(true);
      expect(most).toBe(3);
    } finally {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    }
  });
});
