import { chmodSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, RedisServer } from '@sloth/core';
import { eventually, SlothProcess } from './helpers/agent-processes.js';
import { rawRequest as rawRequestOnce, type RawAnswer } from './helpers/raw-http.js';

/**
 * A request answered on its merits: a 503 that sheds load (the collector's latency budget on a busy
 * machine, with Retry-After) says nothing about the request, so it is sent again, as an agent would.
 */
async function rawRequest(...args: Parameters<typeof rawRequestOnce>): Promise<RawAnswer> {
  for (let attempt = 0; ; attempt++) {
    const answer = await rawRequestOnce(...args);
    if (answer.status !== 503 || answer.headers['retry-after'] === undefined || !/overloaded|saturated/.test(answer.body) || attempt === 30) return answer;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

/**
 * Issue 10 items 1, 2, 6, 8 against the built CLI: every route of every HTTP
 * server, under every spelling of its path, with every kind of credential,
 * gets the answer its canonical spelling gets; bound tokens write only for
 * their agents; bad input is 400; secrets stay out of logs; files are private.
 */

const secrets = {
  web: 'tok-web-1-secret-aaaa',
  db: 'tok-db-1-secret-bbbb',
  admin: 'tok-admin-secret-cccc',
  metrics: 'tok-metrics-secret-dddd',
  ops: 'tok-ops-secret-eeee',
};
type Credential = 'none' | 'bad' | 'web' | 'db' | 'admin' | 'metrics' | 'ops';
const tokenOf = (credential: Credential): string | undefined => (credential === 'none' ? undefined : credential === 'bad' ? 'not-a-real-token-ffff' : secrets[credential]);

/** The spellings of a path that must be answered like the path itself. */
export function spellings(pathAndQuery: string): string[] {
  const [path = '/', query] = pathAndQuery.split('?');
  const q = query === undefined ? '' : `?${query}`;
  const segments = path.split('/').filter((s) => s !== '');
  const encodeFirst = (segment: string): string => `%${segment.charCodeAt(0).toString(16)}${segment.slice(1)}`;
  const join = (parts: string[], sep = '/'): string => `/${parts.join(sep)}`;
  const [first = '', second, ...rest] = segments;
  const variants = [
    join([encodeFirst(first), ...segments.slice(1)]),
    join([first, ...(second === undefined ? [] : [encodeFirst(second)]), ...rest]),
    join(segments, '//'),
    join([first, '.', ...segments.slice(1)]),
    join([first, '%2e', ...segments.slice(1)]),
    join(['x', '..', ...segments]),
    join([first.toUpperCase(), ...segments.slice(1)]),
    `${path}/`,
    // Added after the first walk: encoded dot-dot, upper-case escapes, a wholly encoded segment, every static segment upper-case.
    join(['x', '%2e%2e', ...segments]),
    join(['x', '%2E%2E', '.', ...segments]),
    join([[...first].map((c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`).join(''), ...segments.slice(1)]),
    join(segments.map((s) => (/\d/.test(s) && s.includes('-') ? s : s.toUpperCase()))),
  ];
  return variants.map((v) => `${v}${q}`);
}

interface Route {
  readonly server: 'collector' | 'metrics' | 'scheduler' | 'agent' | 'alerts' | 'schedulerMetrics' | 'alertsMetrics';
  readonly method: 'GET' | 'HEAD' | 'POST' | 'DELETE';
  readonly path: string;
  readonly body?: (agent: string) => string;
  /** Status per credential for the canonical spelling; `served` = reached the handler (not 401/403, not 5xx). */
  readonly expect: Partial<Record<Credential, number | 'served'>>;
}

const resource = (agent: string): Record<string, unknown> => ({ attributes: [{ key: 'service.instance.id', value: { stringValue: agent } }] });
const nanos = (millis: number): string => String(BigInt(millis) * 1_000_000n);
const gauge = (agent: string, timeMillis = Date.now(), attributes: Record<string, string> = {}): string =>
  JSON.stringify({
    resourceMetrics: [{ resource: resource(agent), scopeMetrics: [{ metrics: [{ name: 'test.gauge', unit: '1', gauge: { dataPoints: [{ timeUnixNano: nanos(timeMillis), asDouble: 1, attributes: Object.entries(attributes).map(([key, value]) => ({ key, value: { stringValue: value } })) }] } }] }] }],
  });
const logs = (agent: string): string => JSON.stringify({ resourceLogs: [{ resource: resource(agent), scopeLogs: [{ logRecords: [{ timeUnixNano: nanos(Date.now()), body: { stringValue: 'hello' } }] }] }] });
const traces = (agent: string): string =>
  JSON.stringify({ resourceSpans: [{ resource: resource(agent), scopeSpans: [{ spans: [{ traceId: 'ab'.repeat(16), spanId: 'cd'.repeat(8), name: 'op', startTimeUnixNano: nanos(Date.now() - 5), endTimeUnixNano: nanos(Date.now()) }] }] }] });

// Writes carry agent web-1: its own token and the admin may write, db-1's bound token may not.
const write = { none: 401, bad: 401, web: 200, db: 403, admin: 200 } as const;
const read = (ok: number) => ({ none: 401, bad: 401, web: ok, db: ok, admin: ok }) as const;
const routes: Route[] = [
  { server: 'collector', method: 'POST', path: '/v1/metrics', body: gauge, expect: write },
  { server: 'collector', method: 'POST', path: '/v1/traces', body: traces, expect: write },
  { server: 'collector', method: 'POST', path: '/v1/logs', body: logs, expect: write },
  { server: 'collector', method: 'GET', path: '/api/v1/agents', expect: read(200) },
  { server: 'collector', method: 'GET', path: '/api/v1/series', expect: read(200) },
  { server: 'collector', method: 'GET', path: '/api/v1/samples?series=nope', expect: read(404) },
  { server: 'collector', method: 'GET', path: '/api/v1/latest', expect: read(200) },
  { server: 'collector', method: 'GET', path: '/api/v1/spans', expect: read(200) },
  { server: 'collector', method: 'GET', path: '/api/v1/logs', expect: read(200) },
  { server: 'collector', method: 'GET', path: '/api/v1/query?name=test.gauge&agg=sum&by=agent', expect: read(200) },
  { server: 'collector', method: 'GET', path: '/api/v1/nothing-here', expect: read(404) },
  { server: 'metrics', method: 'GET', path: '/metrics', expect: { none: 401, bad: 401, web: 401, admin: 401, metrics: 200 } },
  { server: 'metrics', method: 'GET', path: '/elsewhere', expect: { none: 401, bad: 401, metrics: 404 } },
  { server: 'agent', method: 'GET', path: '/metrics', expect: { none: 200, bad: 200, web: 200 } },
  { server: 'agent', method: 'GET', path: '/elsewhere', expect: { none: 404, web: 404 } },
  // The scheduler's and alerts' own /metrics ports (core MetricsEndpoint, like the agent's and analytics'): public.
  { server: 'schedulerMetrics', method: 'GET', path: '/metrics', expect: { none: 200, bad: 200, ops: 200 } },
  { server: 'schedulerMetrics', method: 'POST', path: '/metrics', expect: { none: 405, ops: 405 } },
  { server: 'schedulerMetrics', method: 'GET', path: '/api/v1/remediations', expect: { none: 404, ops: 404 } },
  { server: 'alertsMetrics', method: 'GET', path: '/metrics', expect: { none: 200, bad: 200, ops: 200 } },
  { server: 'alertsMetrics', method: 'GET', path: '/api/v1/alerts', expect: { none: 404, ops: 404 } },
  { server: 'scheduler', method: 'GET', path: '/healthz', expect: { none: 200, bad: 200, web: 200, ops: 200 } },
  { server: 'scheduler', method: 'GET', path: '/api/v1/remediations', expect: { none: 401, bad: 401, web: 401, ops: 200 } },
  { server: 'scheduler', method: 'GET', path: '/api/v1/remediations/r-404', expect: { none: 401, bad: 401, web: 401, ops: 404 } },
  { server: 'scheduler', method: 'POST', path: '/api/v1/remediations/r-404/approve', expect: { none: 401, bad: 401, web: 401, ops: 404 } },
  { server: 'scheduler', method: 'POST', path: '/api/v1/remediations/r-404/reject', expect: { none: 401, bad: 401, web: 401, ops: 404 } },
  // Task and scaling routes registered on the scheduler API (scheduler/src/tasks, scheduler/src/scaling).
  ...[
    ['GET', '/api/v1/tasks'],
    ['GET', '/api/v1/tasks/t-404'],
    ['POST', '/api/v1/tasks'],
    ['POST', '/api/v1/tasks/plan'],
    ['POST', '/api/v1/tasks/t-404/cancel'],
    ['POST', '/api/v1/agents/a-404/drain'],
    ['POST', '/api/v1/agents/a-404/undrain'],
    ['GET', '/api/v1/agents/drained'],
    ['GET', '/api/v1/scaling'],
    ['GET', '/api/v1/scaling/s-404/decisions'],
  ].map(([method, path]): Route => ({ server: 'scheduler', method: method as Route['method'], path: path as string, expect: { none: 401, bad: 401, web: 401, ops: 'served' } })),
  // The alerts API and Alertmanager intake (alerts/src/api.ts); only /healthz is public.
  { server: 'alerts', method: 'GET', path: '/healthz', expect: { none: 200, bad: 200, web: 200, ops: 200 } },
  ...[
    ['GET', '/api/v1/alerts'],
    ['GET', '/api/v1/rules'],
    ['GET', '/api/v1/score'],
    ['GET', '/api/v1/silences'],
    ['POST', '/api/v1/silences'],
    ['DELETE', '/api/v1/silences/s-404'],
    ['GET', '/api/v1/history'],
    ['POST', '/api/v1/routes/test'],
    ['POST', '/api/v1/intake/alertmanager'],
  ].map(([method, path]): Route => ({ server: 'alerts', method: method as Route['method'], path: path as string, expect: { none: 401, bad: 401, web: 401, ops: 'served' } })),
];
// HEAD of every GET route (Fastify answers it from the GET route): the same rule must hold.
routes.push(...routes.filter((r) => r.method === 'GET').map((r): Route => ({ ...r, method: 'HEAD' })));

/** What must agree between spellings: the status and the error code, when there is one. */
function shape(answer: RawAnswer): { status: number; code: unknown } {
  let code: unknown;
  try {
    code = (JSON.parse(answer.body) as { code?: unknown }).code;
  } catch {
    code = undefined;
  }
  return { status: answer.status, code };
}

describe('HTTP security of every Sloth server (built CLI, real Redis)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sloth-http-security-'));
  let redis: RedisServer;
  let collector: SlothProcess;
  let scheduler: SlothProcess;
  let agent: SlothProcess;
  let alerts: SlothProcess;
  const base: Record<Route['server'], string> = { collector: '', metrics: '', scheduler: '', agent: '', alerts: '', schedulerMetrics: '', alertsMetrics: '' };

  beforeAll(async () => {
    redis = await RedisServer.start({ dir: join(dir, 'redis'), appendOnly: false });
    const secretFile = (name: string, text: string): string => {
      const path = join(dir, name);
      writeFileSync(path, text, { mode: 0o600 });
      chmodSync(path, 0o600);
      return path;
    };
    mkdirSync(join(dir, 'playbooks'));
    collector = SlothProcess.spawn([
      'collector', '--data-dir', join(dir, 'collector-data'), '--redis-url', redis.url, '--redis-prefix', 'httpsec', '--host', '127.0.0.1',
      '--port', '0', '--metrics-port', '0', '--log-level', 'debug',
      '--token-file', secretFile('agent-tokens', `# agents\n${secrets.web}:web-1\n${secrets.db}:db-1\n`),
      '--admin-token-file', secretFile('admin-tokens', `${secrets.admin}:ops\n`),
      '--metrics-token-file', secretFile('metrics-token', `${secrets.metrics}\n`),
    ]);
    const otlp = await collector.waitForOutput(/OTLP\/HTTP on (\S+)\/v1\//);
    const metrics = await collector.waitForOutput(/Prometheus exposition: (\S+)\/metrics/);
    base.collector = otlp[1] as string;
    base.metrics = metrics[1] as string;
    const [schedulerPort, schedulerMetricsPort, alertsMetricsPort] = [await freePort(), await freePort(), await freePort()];
    base.schedulerMetrics = `http://127.0.0.1:${schedulerMetricsPort}`;
    base.alertsMetrics = `http://127.0.0.1:${alertsMetricsPort}`;
    scheduler = SlothProcess.spawn([
      'scheduler', '--data-dir', join(dir, 'scheduler-data'), '--redis-url', redis.url, '--redis-prefix', 'httpsec', '--port', String(schedulerPort), '--metrics-port', String(schedulerMetricsPort),
      '--playbooks', join(dir, 'playbooks'), '--log-level', 'debug', '--token-file', secretFile('scheduler-tokens', `${secrets.ops}:ops\n`),
    ]);
    await scheduler.waitForOutput(/remediation API on/);
    base.scheduler = `http://127.0.0.1:${schedulerPort}`;
    writeFileSync(join(dir, 'alerts.yaml'), 'route:\n  receiver: ops\nreceivers:\n  - name: ops\n');
    const alertsPort = await freePort();
    alerts = SlothProcess.spawn([
      'alerts', '--data-dir', join(dir, 'alerts-data'), '--redis-url', redis.url, '--redis-prefix', 'httpsec', '--port', String(alertsPort), '--metrics-port', String(alertsMetricsPort),
      '--rules', join(dir, 'alerts.yaml'), '--collector', base.collector, '--token', `${secrets.ops}:ops`, '--log-level', 'debug',
    ]);
    await alerts.waitForOutput(/API and Alertmanager intake on/);
    base.alerts = `http://127.0.0.1:${alertsPort}`;
    // The agent writes as web-1 with web-1's bound token, read from a file.
    const agentMetricsPort = await freePort();
    agent = SlothProcess.spawn([
      'agent', '--collector', base.collector, '--token-file', secretFile('agent-token', `${secrets.web}\n`), '--id', 'web-1', '--interval', '1',
      '--metrics-port', String(agentMetricsPort), '--data-dir', join(dir, 'agent-data'), '--log-level', 'debug',
    ]);
    base.agent = `http://127.0.0.1:${agentMetricsPort}`;
    for (const server of ['agent', 'schedulerMetrics', 'alertsMetrics'] as const) {
      await eventually(async () => ((await rawRequest(base[server], 'GET', '/metrics').catch(() => undefined))?.status === 200 ? true : undefined));
    }
  });

  afterAll(async () => {
    await agent?.stop();
    await alerts?.stop();
    await scheduler?.stop();
    await collector?.stop();
    await redis?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('answers every spelling of every route like the canonical path, for every credential', async () => {
    const mismatches: string[] = [];
    let requests = 0;
    for (const route of routes) {
      for (const [credential, expected] of Object.entries(route.expect) as Array<[Credential, number | 'served']>) {
        const send = async (path: string): Promise<RawAnswer> => {
          requests += 1;
          const token = tokenOf(credential);
          return rawRequest(base[route.server], route.method, path, {
            ...(token === undefined ? {} : { token }),
            ...(route.body === undefined ? {} : { body: route.body('web-1') }),
          });
        };
        const canonical = shape(await send(route.path));
        const served = expected === 'served' && canonical.status !== 401 && canonical.status !== 403 && canonical.status < 500;
        if (canonical.status !== expected && !served) mismatches.push(`${route.method} ${route.path} as ${credential}: ${canonical.status}, expected ${expected}`);
        // The spellings of one route and credential at once: the walk is ~4,000 requests.
        const variants = spellings(route.path);
        const answers = await Promise.all(variants.map(async (spelling) => shape(await send(spelling))));
        answers.forEach((got, i) => {
          if (got.status !== canonical.status || got.code !== canonical.code) {
            mismatches.push(`${route.method} ${variants[i] ?? ''} as ${credential}: ${JSON.stringify(got)}, canonical ${JSON.stringify(canonical)}`);
          }
        });
      }
    }
    // The closing note of issue 10 quotes these counts.
    const credentials = routes.reduce((n, r) => n + Object.keys(r.expect).length, 0);
    console.info(`route walk: ${routes.length} routes on ${new Set(routes.map((r) => r.server)).size} ports, ${spellings('/a/b/c').length + 1} spellings each (canonical included), ${credentials} route×credential pairs, ${requests} requests, ${mismatches.length} mismatches`);
    expect(mismatches).toEqual([]);
    expect(requests).toBeGreaterThan(1000);
  }, 300_000);

  it('uses one error body, naming the code, for 401, 403 and 404 outside OTLP', async () => {
    const denied = await rawRequest(base.collector, 'GET', '/api/v1/series');
    expect(JSON.parse(denied.body)).toEqual({ code: 'SLOTH_ERR_AUTH', message: expect.stringContaining('missing bearer token'), details: {} });
    const missing = await rawRequest(base.scheduler, 'GET', '/api/v1/remediations/r-404', { token: secrets.ops });
    expect(JSON.parse(missing.body)).toEqual({ code: 'SLOTH_ERR_NOT_FOUND', message: 'no remediation with id "r-404"', details: { id: 'r-404' } });
  });

  it('refuses a write for another agent with 403 and stores nothing of it', async () => {
    const refused = await rawRequest(base.collector, 'POST', '/v1/metrics', { token: secrets.db, body: gauge('web-9') });
    expect(refused.status).toBe(403);
    expect(JSON.parse(refused.body)).toMatchObject({ code: 7, message: expect.stringContaining('not for agent "web-9"') });
    for (const body of [logs('web-9'), traces('web-9')]) {
      expect((await rawRequest(base.collector, 'POST', body.includes('resourceLogs') ? '/v1/logs' : '/v1/traces', { token: secrets.web, body })).status).toBe(403);
    }
    const agents = JSON.parse((await rawRequest(base.collector, 'GET', '/api/v1/agents', { token: secrets.admin })).body) as { agents: Array<{ id: string }> };
    expect(agents.agents.map((a) => a.id)).not.toContain('web-9');
    for (const what of ['series', 'logs', 'spans']) {
      const answer = JSON.parse((await rawRequest(base.collector, 'GET', `/api/v1/${what}?agent=web-9`, { token: secrets.admin })).body) as Record<string, unknown[]>;
      expect(answer[what]).toEqual([]);
    }
  });

  it('rejects points too far in the future and over the label limits per point, in partial_success', async () => {
    const future = Date.now() + 3_600_000;
    const skewed = await rawRequest(base.collector, 'POST', '/v1/metrics', { token: secrets.web, body: gauge('web-1', future, { probe: 'future' }) });
    expect(skewed.status).toBe(200);
    expect(JSON.parse(skewed.body)).toMatchObject({ partialSuccess: { rejectedDataPoints: '1', errorMessage: expect.stringContaining('future_timestamp=1') } });
    const labels = Object.fromEntries(Array.from({ length: 80 }, (_, i) => [`l${i}`, 'v']));
    const wide = await rawRequest(base.collector, 'POST', '/v1/metrics', { token: secrets.web, body: gauge('web-1', Date.now(), labels) });
    expect(JSON.parse(wide.body)).toMatchObject({ partialSuccess: { rejectedDataPoints: '1', errorMessage: expect.stringContaining('label_limit=1') } });
    const long = await rawRequest(base.collector, 'POST', '/v1/metrics', { token: secrets.web, body: gauge('web-1', Date.now(), { big: 'x'.repeat(5000) }) });
    expect(JSON.parse(long.body)).toMatchObject({ partialSuccess: { rejectedDataPoints: '1', errorMessage: expect.stringContaining('label "big" is 5000 bytes') } });
    const latest = JSON.parse((await rawRequest(base.collector, 'GET', '/api/v1/latest?name=test.gauge', { token: secrets.web })).body) as { points: Array<{ t: number; labels: Record<string, string> }> };
    expect(latest.points.some((p) => p.t === future || p.labels.probe === 'future' || 'big' in p.labels || 'l79' in p.labels)).toBe(false);
  });

  it('answers 400, never 5xx, to deeply nested JSON, unknown fields and out-of-range times', async () => {
    const deep = `{"resourceMetrics":${'['.repeat(20_000)}${']'.repeat(20_000)}}`;
    const nested = await rawRequest(base.collector, 'POST', '/v1/metrics', { token: secrets.web, body: deep });
    expect(nested.status).toBe(400);
    expect(JSON.parse(nested.body)).toMatchObject({ code: 3, message: expect.stringContaining('nests deeper than 64') });
    const approve = await rawRequest(base.scheduler, 'POST', '/api/v1/remediations/r-1/approve', { token: secrets.ops, body: deep });
    expect(approve.status).toBe(400);
    expect(JSON.parse(approve.body)).toMatchObject({ code: 'SLOTH_ERR_BAD_REQUEST' });
    const extra = await rawRequest(base.scheduler, 'POST', '/api/v1/remediations/r-1/approve', { token: secrets.ops, body: '{"by":"ops","colour":"red"}' });
    expect(JSON.parse(extra.body)).toEqual({ code: 'SLOTH_ERR_BAD_REQUEST', message: 'unknown body field "colour"', details: { in: 'body', parameter: 'colour' } });
    for (const path of ['/api/v1/series?colour=red', '/api/v1/samples?series=x&from=99999999999999999999', '/api/v1/spans?since=-999999999999w', '/api/v1/samples?series=x&to=1e400']) {
      const answer = await rawRequest(base.collector, 'GET', path, { token: secrets.web });
      expect({ path, status: answer.status, code: (JSON.parse(answer.body) as { code: string }).code }).toEqual({ path, status: 400, code: 'SLOTH_ERR_BAD_REQUEST' });
    }
  });

  it('closes the connection after a 401 and keeps it after an authenticated answer', async () => {
    const port = Number(new URL(base.collector).port);
    expect(await socketEndsAfter(port, 'GET /api/v1/agents HTTP/1.1\r\nhost: x\r\nconnection: keep-alive\r\n\r\n')).toBe(true);
    expect(await socketEndsAfter(port, `GET /api/v1/agents HTTP/1.1\r\nhost: x\r\nconnection: keep-alive\r\nauthorization: Bearer ${secrets.web}\r\n\r\n`)).toBe(false);
  });

  it('keeps every secret out of the logs and every file private (0600 files, 0700 directories)', async () => {
    // The agent's writes, with its bound token from a file, were accepted.
    await eventually(async () => {
      const answer = JSON.parse((await rawRequest(base.collector, 'GET', '/api/v1/series?agent=web-1&name=system.cpu.utilization', { token: secrets.web })).body) as { series: unknown[] };
      return answer.series.length > 0 ? true : undefined;
    });
    const output = `${collector.stdout}${collector.stderr}${scheduler.stdout}${scheduler.stderr}${agent.stdout}${agent.stderr}`;
    expect(output).toContain('collector listening');
    for (const secret of Object.values(secrets)) expect(output).not.toContain(secret);
    const open: string[] = [];
    const walk = (path: string): void => {
      const mode = statSync(path).mode & 0o777;
      if ((mode & 0o077) !== 0) open.push(`${path} ${mode.toString(8)}`);
      if (statSync(path).isDirectory()) for (const name of readdirSync(path)) walk(join(path, name));
    };
    walk(join(dir, 'collector-data'));
    walk(join(dir, 'scheduler-data'));
    walk(join(dir, 'agent-data'));
    expect(open).toEqual([]);
  });
});

/** Whether the server ends a keep-alive connection after answering one request. */
async function socketEndsAfter(port: number, request: string): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let text = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      text += chunk;
      const headEnd = text.indexOf('\r\n\r\n');
      if (headEnd === -1) return;
      const length = Number(/content-length: (\d+)/i.exec(text.slice(0, headEnd))?.[1] ?? '0');
      // A complete answer: give the server a moment to end the socket, else it kept it open.
      if (text.length >= headEnd + 4 + length) {
        setTimeout(() => {
          socket.destroy();
          resolve(false);
        }, 500);
      }
    });
    socket.on('end', () => resolve(true));
    socket.on('error', reject);
    socket.write(request);
  });
}
