import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AllInOne } from '@sloth/cli';
import { freePort, liveApis, RedisServer, type LiveApi } from '@sloth/core';

/**
 * Deny by default, audited from the route table itself: `sloth up`'s roles (the AllInOne class the
 * command runs, here in the test process) against a real redis-server, every route every createApi
 * app registered (core's liveApis(), so a route added tomorrow is audited without editing this
 * file), over real sockets with the path sent byte for byte. Every route not declared public
 * answers 401 without a token, with a wrong one, and under every spelling of its path; the routes
 * declared public are health and metrics only; the plain /metrics ports serve nothing else.
 */

const agentSecret = 'audit-agent-web-1-secret';
const unknownSecret = 'not-a-configured-token-0000';

/** What may be public: liveness and Prometheus scrapes, nothing that reads or changes data. */
const mayBePublic = new Set(['GET /healthz', 'HEAD /healthz', 'GET /metrics', 'HEAD /metrics']);

interface Answer {
  readonly status: number;
  readonly body: string;
  readonly headers: Record<string, string | string[] | undefined>;
}

/** One request on a fresh connection, the path exactly as given (no client-side normalisation). */
async function send(port: number, method: string, path: string, headers: Record<string, string>, body?: string): Promise<Answer> {
  return new Promise<Answer>((resolve, reject) => {
    const all = { ...headers, ...(body === undefined ? {} : { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)) }) };
    const req = request({ host: '127.0.0.1', port, method, path, headers: all, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8'), headers: res.headers }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** A concrete path for a route pattern: parameters and wildcards filled in. */
function concrete(url: string): string {
  return url
    .split('/')
    .map((segment) => (segment.startsWith(':') ? 'audit-x' : segment === '*' ? 'audit' : segment))
    .join('/');
}

/** Spellings of a path that a router or a proxy may treat as the path itself (the brief's list and more). */
function spellings(path: string): string[] {
  const segments = path.split('/').filter((s) => s !== '');
  const slash = (parts: readonly string[], sep = '/'): string => `/${parts.join(sep)}`;
  const [first = '', ...rest] = segments;
  const hex = (c: string): string => `%${c.charCodeAt(0).toString(16).padStart(2, '0')}`;
  const variants = [
    slash(segments, '%2F'),
    slash(segments, '%2f'),
    `/${first}%2F${rest.join('/')}`,
    slash(['x', '%2e%2e', ...segments]),
    slash(['x', '%2E%2E', ...segments]),
    slash(['x', '..', ...segments]),
    slash([first, '.', ...rest]),
    slash([first, '%2e', ...rest]),
    slash(segments, '//'),
    `/${path}`,
    `${path}/`,
    `${path}//`,
    path.toUpperCase(),
    slash([first.toUpperCase(), ...rest]),
    slash([[...first].map(hex).join(''), ...rest]),
    slash([`${hex(first[0] ?? 'a')}${first.slice(1)}`, ...rest]),
    `${path};`,
    `${path};x=1`,
    slash([`${first};x=1`, ...rest]),
    slash(segments.map((s) => `${s};`)),
    `${path}%3B`,
    `${path}?token=${agentSecret}`,
    `${path}#frag`,
  ];
  return [...new Set(variants)].filter((v) => v !== path);
}

describe('every route of every role is authenticated unless declared public (sloth up, real Redis)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sloth-route-audit-'));
  let redis: RedisServer;
  const up = new AllInOne();
  let apis: LiveApi[] = [];
  let localToken = '';
  const ports = new Map<string, number>();

  beforeAll(async () => {
    redis = await RedisServer.start({ dir: join(dir, 'redis'), appendOnly: false });
    const dataDir = join(dir, 'data');
    mkdirSync(join(dir, 'playbooks'));
    const [collectorPort, metricsPort, schedulerPort, schedulerMetricsPort, alertsPort, alertsMetricsPort, analyticsMetricsPort] = await Promise.all(Array.from({ length: 7 }, () => freePort()));
    await up.start({
      dataDir,
      redisUrl: redis.url,
      redisPrefix: 'audit',
      logLevel: 'error',
      host: '127.0.0.1',
      collectorPort,
      metricsPort,
      schedulerPort,
      schedulerMetricsPort,
      alertsPort,
      alertsMetricsPort,
      analyticsMetricsPort,
      playbooks: join(dir, 'playbooks'),
      agent: false,
      // An agent-bound token: valid on the collector, a wrong token everywhere else.
      token: [{ token: agentSecret, name: 'web-1' }],
    });
    // The operator's token `sloth up` made (admin on the collector, accepted by the scheduler and alerts).
    localToken = readFileSync(join(dataDir, 'up-token'), 'utf8').trim();
    apis = liveApis();
    for (const api of apis) {
      const address = api.app.server.address();
      if (typeof address === 'object' && address !== null) ports.set(api.name, address.port);
    }
  }, 120_000);

  afterAll(async () => {
    await up.shutdown();
    await redis?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('finds every role in the route table, each listening', () => {
    expect(localToken).toMatch(/^[0-9a-f]{48}$/);
    expect(apis.map((a) => a.name).sort()).toEqual(['alerts', 'collector', 'collector metrics endpoint', 'scheduler']);
    for (const api of apis) {
      expect(ports.get(api.name), api.name).toBeGreaterThan(0);
      expect(api.routes.length, api.name).toBeGreaterThan(0);
    }
  });

  it('declares only health and metrics routes public', () => {
    const declared = apis.flatMap((api) => api.routes.filter((r) => r.auth === 'public').map((r) => `${api.name}: ${r.method} ${r.url}`));
    const unexpected = declared.filter((entry) => !mayBePublic.has(entry.slice(entry.indexOf(': ') + 2)));
    expect(unexpected).toEqual([]);
    expect(declared.length).toBeGreaterThan(0);
  });

  it('reaches every non-public route with a valid token (the paths below are the routes, not 404s)', async () => {
    const unreached: string[] = [];
    for (const api of apis) {
      const port = ports.get(api.name) as number;
      for (const route of api.routes.filter((r) => r.auth !== 'public')) {
        const path = concrete(route.url);
        const answer = await send(port, route.method, path, { authorization: `Bearer ${localToken}` }, route.method === 'POST' || route.method === 'PUT' ? '{}' : undefined);
        const routerMiss = answer.status === 404 && answer.body.includes('no route');
        if (answer.status === 401 || routerMiss || (api.name !== 'collector metrics endpoint' && answer.status >= 500)) unreached.push(`${api.name}: ${route.method} ${path} -> ${answer.status} ${answer.body.slice(0, 120)}`);
      }
    }
    // The collector's Prometheus port takes no token at all here (its /metrics is public): every other path there is 401.
    expect(unreached.filter((u) => !u.startsWith('collector metrics endpoint:'))).toEqual([]);
  });

  it('answers 401 to every non-public route, under every spelling, without a token or with a wrong one', async () => {
    const credentials: Array<[string, Record<string, string>]> = [
      ['no token', {}],
      ['unknown token', { authorization: `Bearer ${unknownSecret}` }],
      ['token with a suffix', { authorization: `Bearer ${localToken}x` }],
      ['token upper-cased', { authorization: `Bearer ${localToken.toUpperCase()}` }],
      ['two tokens', { authorization: `Bearer ${localToken} ${localToken}` }],
      ['Basic scheme', { authorization: `Basic ${Buffer.from(`local:${localToken}`).toString('base64')}` }],
      ['empty bearer', { authorization: 'Bearer ' }],
      ['token in another header', { 'x-api-key': localToken, cookie: `token=${localToken}` }],
    ];
    const failures: string[] = [];
    let requests = 0;
    for (const api of apis) {
      const port = ports.get(api.name) as number;
      // The agent's bound token is the collector's; on every other server it is a wrong token.
      const wrong = api.name === 'collector' ? credentials : [...credentials, ['agent token of the collector', { authorization: `Bearer ${agentSecret}` }] as [string, Record<string, string>]];
      for (const route of api.routes.filter((r) => r.auth !== 'public')) {
        const path = concrete(route.url);
        const body = route.method === 'POST' || route.method === 'PUT' ? '{}' : undefined;
        const checks = [path, ...spellings(path)].flatMap((spelling) => wrong.map(([label, headers]) => ({ spelling, label, headers })));
        const answers = await Promise.all(checks.map(async (c) => ({ ...c, answer: await send(port, route.method, c.spelling, c.headers, body) })));
        requests += answers.length;
        for (const { spelling, label, answer } of answers) {
          if (answer.status !== 401 || answer.headers['www-authenticate'] === undefined) {
            failures.push(`${api.name}: ${route.method} ${spelling} (${route.url}) with ${label} -> ${answer.status} ${answer.body.slice(0, 120)}`);
          }
        }
      }
      // Paths no route has: denied the same way (an unauthenticated client learns nothing, not even a 404).
      for (const path of ['/', '/admin', '/debug/pprof', '/documentation/json', '/api/v1/does-not-exist', '/%2e%2e/%2e%2e/etc/passwd']) {
        const answer = await send(port, 'GET', path, {});
        requests += 1;
        if (answer.status !== 401) failures.push(`${api.name}: GET ${path} (no route) without a token -> ${answer.status}`);
      }
    }
    console.info(`route audit: ${apis.reduce((n, a) => n + a.routes.filter((r) => r.auth !== 'public').length, 0)} non-public routes on ${apis.length} apps, ${requests} requests, ${failures.length} failures`);
    expect(failures).toEqual([]);
    expect(requests).toBeGreaterThan(1000);
  }, 300_000);

  it('serves the public routes without a token, and nothing but /metrics on the plain metrics ports', async () => {
    for (const api of apis) {
      for (const route of api.routes.filter((r) => r.auth === 'public' && r.method === 'GET')) {
        const answer = await send(ports.get(api.name) as number, 'GET', route.url, {});
        expect(`${api.name} ${route.url} ${answer.status}`).toBe(`${api.name} ${route.url} 200`);
      }
    }
    // The Prometheus ports of analytics, the scheduler and alerts (core's MetricsEndpoint, not createApi): from `sloth up`'s summary.
    const apiPorts = new Set(ports.values());
    const metricsPorts = [...new Set(up.summary.join('\n').match(/http:\/\/127\.0\.0\.1:\d+\/metrics/g) ?? [])].map((u) => Number(new URL(u).port)).filter((p) => !apiPorts.has(p));
    expect(metricsPorts.length).toBeGreaterThanOrEqual(3);
    const leaks: string[] = [];
    for (const port of metricsPorts) {
      expect((await send(port, 'GET', '/metrics', {})).status).toBe(200);
      for (const api of apis) {
        for (const route of api.routes.filter((r) => r.auth !== 'public')) {
          const answer = await send(port, route.method, concrete(route.url), {});
          if (answer.status < 400) leaks.push(`:${port} ${route.method} ${route.url} -> ${answer.status}`);
        }
      }
    }
    expect(leaks).toEqual([]);
  }, 120_000);
});
