/**
 * Issue 10 attack classes against the built CLI: a real `sloth collector` and
 * `sloth scheduler` on a real `redis-server`, attacked over raw HTTP the way
 * the attacker did. Prints one JSON line per class with how many
 * requests were sent and what they got, and the invariants checked after it
 * (no 5xx for bad input, nothing stored for a forged agent or a future time,
 * the collector still up and still ingesting). Exits 1 when an invariant broke.
 *
 *   npx tsc -b && npx tsx bench/security/attack.ts [--mutations 1500] [--seed 1]
 *
 * The route walk (every route × every path spelling × every credential) is
 * `test/http-security.test.ts`, which prints its own counts.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { gzipSync } from 'node:zlib';
import { freePort, RedisServer } from '@sloth/core';
import { json, metricsObject, mutateBytes, mutateJson, nestedLogsBody, objects, protobuf, seedMutations, type Signal } from './attack-bodies.js';

const { values: args } = parseArgs({ options: { mutations: { type: 'string', default: '1500' }, seed: { type: 'string', default: '1' } } });
const mutationsPerSignal = Number(args.mutations);
if (!Number.isInteger(mutationsPerSignal) || mutationsPerSignal < 1) throw new Error(`--mutations must be a positive integer, got ${args.mutations}`);
seedMutations(Number(args.seed));
const cli = fileURLToPath(new URL('../../cli/dist/src/main.js', import.meta.url));

class Proc {
  out = '';
  readonly exited: Promise<number | null>;
  constructor(readonly child: ChildProcess) {
    this.exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
    child.stdout?.on('data', (c: Buffer) => (this.out += c.toString()));
    child.stderr?.on('data', (c: Buffer) => (this.out += c.toString()));
  }
  static spawn(argv: readonly string[], env: Record<string, string> = {}): Proc {
    return new Proc(spawn(process.execPath, [cli, ...argv], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } }));
  }
  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }
  async waitFor(pattern: RegExp): Promise<RegExpExecArray> {
    for (let i = 0; i < 1800; i++) {
      const m = pattern.exec(this.out);
      if (m !== null) return m;
      if (!this.running) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`no output matching ${String(pattern)}:\n${this.out}`);
  }
  async stop(): Promise<void> {
    if (this.running) this.child.kill('SIGTERM');
    await this.exited;
  }
}

interface Answer {
  readonly status: number;
  readonly body: string;
  readonly headers: Record<string, string | string[] | undefined>;
}

async function send(base: string, method: string, path: string, o: { token?: string; body?: Buffer | string; type?: string; encoding?: string } = {}): Promise<Answer> {
  const url = new URL(base);
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = {};
    if (o.token !== undefined) headers.authorization = `Bearer ${o.token}`;
    if (o.body !== undefined) {
      headers['content-type'] = o.type ?? 'application/json';
      headers['content-length'] = String(Buffer.byteLength(o.body));
    }
    if (o.encoding !== undefined) headers['content-encoding'] = o.encoding;
    let answered = false;
    const req = httpRequest({ host: url.hostname, port: url.port, method, path, headers, agent: false }, (res) => {
      answered = true;
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8'), headers: res.headers }));
      res.on('error', reject);
    });
    // A server that answers before the whole body arrived (413) and closes makes the rest of the write fail:
    // the answer still counts; a connection dropped without one is status 0.
    req.on('error', (error: NodeJS.ErrnoException) => {
      if (!answered) setTimeout(() => (answered ? undefined : resolve({ status: 0, body: error.code ?? error.message, headers: {} })), 2_000);
    });
    req.end(o.body);
  });
}

/**
 * A POST answered on its merits: a 503 that sheds load (the latency budget or a full
 * pipeline, with Retry-After) is not an answer about the body, so it is sent again after
 * the wait, up to 20 times, and counted as `shedRetries`.
 */
async function sendJudged(base: string, path: string, o: { token: string; body: Buffer | string; type: string; encoding?: string }, tally: Tally): Promise<Answer> {
  for (let attempt = 0; ; attempt++) {
    const answer = await send(base, 'POST', path, o);
    const shed = answer.status === 503 && answer.headers['retry-after'] !== undefined && /overloaded|saturated/.test(answer.body);
    if (!shed || attempt === 20) return answer;
    tally.shedRetries += 1;
    await new Promise((r) => setTimeout(r, 200 + Number(answer.headers['retry-after']) * 200));
  }
}

/** Status → count, plus the requests that broke the class's rule. */
class Tally {
  readonly byStatus: Record<string, number> = {};
  readonly violations: string[] = [];
  sent = 0;
  shedRetries = 0;
  readonly startedAt = performance.now();
  add(status: number | string): void {
    this.sent += 1;
    this.byStatus[String(status)] = (this.byStatus[String(status)] ?? 0) + 1;
  }
  fail(what: string): void {
    if (this.violations.length < 5) this.violations.push(what);
    else if (this.violations.length === 5) this.violations.push('…');
  }
}

const results: Array<Record<string, unknown>> = [];
function report(name: string, tally: Tally, extra: Record<string, unknown> = {}): void {
  const line = { class: name, sent: tally.sent, byStatus: tally.byStatus, ...extra, ...(tally.shedRetries > 0 ? { shedRetries: tally.shedRetries } : {}), seconds: Math.round((performance.now() - tally.startedAt) / 100) / 10, violations: tally.violations };
  results.push(line);
  process.stdout.write(`${JSON.stringify(line)}\n`);
}

/** Runs `jobs` with `concurrency` in flight. */
async function pool<T>(jobs: ReadonlyArray<() => Promise<T>>, concurrency = 4): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < jobs.length) {
        const job = jobs[next++] as () => Promise<T>;
        await job();
      }
    }),
  );
}

// ---- valid bodies -------------------------------------------------------------------------------------------------

// ---- the run ------------------------------------------------------------------------------------------------------

const secrets = { web: 'attack-web-1-secret', admin: 'attack-admin-secret', ops: 'attack-ops-secret' };
const dir = mkdtempSync(join(tmpdir(), 'sloth-attack-'));
const privateFile = (name: string, text: string): string => {
  const path = join(dir, name);
  writeFileSync(path, text, { mode: 0o600 });
  chmodSync(path, 0o600);
  return path;
};
let redis: RedisServer | undefined;
let collector: Proc | undefined;
let scheduler: Proc | undefined;
let broken = false;
const requestTimeoutSeconds = 2;
const maxConnections = 64;

try {
  redis = await RedisServer.start({ dir: join(dir, 'redis'), appendOnly: false });
  collector = Proc.spawn(
    ['collector', '--data-dir', join(dir, 'collector'), '--redis-url', redis.url, '--redis-prefix', 'attack', '--port', '0', '--metrics-port', '0', '--log-level', 'warn',
      '--token-file', privateFile('tokens', `${secrets.web}:web-1\n`), '--admin-token-file', privateFile('admin', `${secrets.admin}:ops\n`)],
    { SLOTH_COLLECTOR_REQUEST_TIMEOUT_SECONDS: String(requestTimeoutSeconds), SLOTH_COLLECTOR_MAX_CONNECTIONS: String(maxConnections) },
  );
  const base = (await collector.waitFor(/OTLP\/HTTP on (\S+)\/v1\//))[1] as string;
  const schedulerPort = await freePort();
  mkdirSync(join(dir, 'playbooks'));
  scheduler = Proc.spawn(['scheduler', '--data-dir', join(dir, 'scheduler'), '--redis-url', redis.url, '--redis-prefix', 'attack', '--port', String(schedulerPort), '--metrics-port', '0',
    '--playbooks', join(dir, 'playbooks'), '--log-level', 'warn', '--token-file', privateFile('sched', `${secrets.ops}:ops\n`)]);
  await scheduler.waitFor(/remediation API on/);
  const schedulerBase = `http://127.0.0.1:${schedulerPort}`;
  const signals: Signal[] = ['metrics', 'traces', 'logs'];
  const protobufType = 'application/x-protobuf';

  // 1. Forged agent ids: web-1's bound token writes as other agents, every signal, both encodings: 403, nothing stored.
  {
    const tally = new Tally();
    const forged = Array.from({ length: 50 }, (_, i) => ['web-2', 'web-10', 'WEB-1', 'web-1 ', ' web-1', 'web-1\u0000', 'web-*', '*', '', 'unknown', 'admin', 'ops'][i] ?? `victim-${i}`);
    for (const agent of forged) {
      for (const signal of signals) {
        for (const format of ['protobuf', 'json'] as const) {
          const object = objects[signal](agent);
          const answer = await sendJudged(base, `/v1/${signal}`, { token: secrets.web, body: format === 'protobuf' ? protobuf(signal, object) : json(object), type: format === 'protobuf' ? protobufType : 'application/json' }, tally);
          tally.add(answer.status);
          // An empty service.instance.id falls back to host.name ("h"): still not web-1.
          if (answer.status !== 403) tally.fail(`${signal}/${format} as ${JSON.stringify(agent)}: ${answer.status}`);
        }
      }
    }
    // A request mixing the token's own agent and a foreign one is refused as a whole.
    const mixed = metricsObject('web-1');
    (mixed.resourceMetrics as unknown[]).push(...(metricsObject('web-2').resourceMetrics as unknown[]));
    const answer = await sendJudged(base, '/v1/metrics', { token: secrets.web, body: protobuf('metrics', mixed), type: protobufType }, tally);
    tally.add(answer.status);
    if (answer.status !== 403) tally.fail(`mixed web-1 + web-2: ${answer.status}`);
    const agents = JSON.parse((await send(base, 'GET', '/api/v1/agents', { token: secrets.admin })).body) as { agents: Array<{ id: string }> };
    const stored = agents.agents.map((a) => a.id).filter((id) => forged.includes(id) || id === 'h' || id === 'web-1');
    if (stored.length > 0) tally.fail(`forged agents registered: ${stored.join(', ')}`);
    report('forged agent ids (bound token)', tally, { agentIds: forged.length, signals: 3, encodings: 2, mixedRequests: 1, agentsStored: stored.length });
  }

  // 2-3. Mutated protobuf and JSON bodies, with a valid admin token: any answer but 5xx (and the process stays up).
  for (const [name, format] of [['mutated protobuf bodies', 'protobuf'], ['mutated JSON bodies', 'json']] as const) {
    const tally = new Tally();
    const jobs = signals.flatMap((signal) =>
      Array.from({ length: mutationsPerSignal }, (_, i) => async () => {
        const object = objects[signal](`fuzz-${i % 20}`);
        const body = format === 'protobuf' ? mutateBytes(protobuf(signal, object)) : mutateJson(object);
        const answer = await sendJudged(base, `/v1/${signal}`, { token: secrets.admin, body, type: format === 'protobuf' ? protobufType : 'application/json' }, tally);
        tally.add(answer.status);
        if (answer.status >= 500 || answer.status === 0) tally.fail(`${signal} ${answer.status}: ${answer.body.slice(0, 120)}`);
      }),
    );
    await pool(jobs);
    if (!collector.running) tally.fail('the collector exited');
    report(name, tally, { perSignal: mutationsPerSignal, signals: signals.length });
  }

  // 4. Deep nesting: JSON arrays/objects on the collector and the scheduler, nested AnyValue in protobuf.
  {
    const tally = new Tally();
    const depths = [65, 1_000, 10_000, 100_000, 1_000_000];
    for (const depth of depths) {
      for (const [open, close] of [['[', ']'], ['{"a":', '}']] as const) {
        const deep = `{"resourceMetrics":${open.repeat(depth)}1${close.repeat(depth)}}`;
        for (const [target, path, token] of [[base, '/v1/metrics', secrets.admin], [base, '/v1/logs', secrets.admin], [schedulerBase, '/api/v1/remediations/r-1/approve', secrets.ops]] as const) {
          const answer = await send(target, 'POST', path, { token, body: deep });
          // A body over the server's limit is refused from its Content-Length and the connection closed: the client,
          // still uploading, may see the reset instead of the 413.
          const overLimit = deep.length > (target === base ? 4 * 1024 * 1024 : 64 * 1024);
          tally.add(answer.status === 0 && overLimit ? '413 or reset while uploading' : answer.status);
          if (answer.status !== 400 && answer.status !== 413 && !(answer.status === 0 && overLimit)) tally.fail(`${path} JSON depth ${depth}: ${answer.status}`);
        }
      }
      // An attribute value nested `depth` levels deep as kvlist_value (field 6) in protobuf: stack, not parser, is the limit.
      const body = nestedLogsBody(Math.min(depth, 200_000));
      const answer = await sendJudged(base, '/v1/logs', { token: secrets.admin, body, type: protobufType }, tally);
      tally.add(answer.status);
      if (answer.status >= 500 || answer.status === 0) tally.fail(`protobuf kvlist depth ${depth} (${body.length} bytes): ${answer.status}`);
    }
    if (!collector.running || !scheduler.running) tally.fail('a server exited');
    report('deeply nested bodies', tally, { depths });
  }

  // 5. Future timestamps: rejected per point in partial_success; /api/v1/latest never shows them.
  {
    const tally = new Tally();
    const aheadMillis = [601_000, 3_600_000, 86_400_000, 365 * 86_400_000, Date.UTC(9999, 0) - Date.now(), Number(2n ** 63n / 1_000_000n) - Date.now()];
    for (const ahead of aheadMillis) {
      for (let i = 0; i < 10; i++) {
        const answer = await sendJudged(base, '/v1/metrics', { token: secrets.web, body: json(metricsObject('web-1', { timeMillis: Date.now() + ahead, name: 'attack.future', labels: { probe: String(i) } })), type: 'application/json' }, tally);
        tally.add(answer.status);
        const partial = (JSON.parse(answer.body) as { partialSuccess?: { rejectedDataPoints?: string } }).partialSuccess;
        if (answer.status !== 200 || partial?.rejectedDataPoints !== '4') tally.fail(`+${ahead} ms: ${answer.status} ${answer.body.slice(0, 160)}`);
      }
    }
    const latest = JSON.parse((await send(base, 'GET', '/api/v1/latest?name=attack.future', { token: secrets.web })).body) as { points: unknown[] };
    if (latest.points.length > 0) tally.fail(`${latest.points.length} future points in /api/v1/latest`);
    report('future timestamps', tally, { offsets: aheadMillis.length, requestsPerOffset: 10, futurePointsVisible: latest.points.length });
  }

  // 6. Label bombs: too many labels, too long a value: rejected per point.
  {
    const tally = new Tally();
    const shapes: Array<Record<string, string>> = [
      ...[64, 65, 200, 1_000, 5_000].map((n) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`l${i}`, 'v']))),
      ...[2_049, 10_000, 100_000, 500_000].map((bytes) => ({ big: 'x'.repeat(bytes) })),
      { big: 'é'.repeat(1_025) },
    ];
    for (const labels of shapes) {
      const answer = await sendJudged(base, '/v1/metrics', { token: secrets.web, body: protobuf('metrics', metricsObject('web-1', { labels, name: 'attack.labels' })), type: protobufType }, tally);
      tally.add(answer.status);
      const rejectedAll = answer.status === 200 && answer.body.length > 0; // a protobuf partial_success, not the empty success body
      if (!rejectedAll) tally.fail(`${Object.keys(labels).length} labels / ${Buffer.byteLength(Object.values(labels)[0] ?? '')} bytes: ${answer.status} (${answer.body.length} bytes)`);
    }
    const series = JSON.parse((await send(base, 'GET', '/api/v1/series?name=attack.labels', { token: secrets.admin })).body) as { series: unknown[] };
    if (series.series.length > 0) tally.fail(`${series.series.length} over-limit series stored`);
    report('label count and value size bombs', tally, { shapes: shapes.length, seriesStored: series.series.length });
  }

  // 7. Compression bombs: gzip of zeros far past the decompressed limit.
  {
    const tally = new Tally();
    for (const mib of [40, 256, 1_024]) {
      const bomb = gzipSync(Buffer.alloc(mib * 1024 * 1024), { level: 9 });
      const answer = await sendJudged(base, '/v1/metrics', { token: secrets.admin, body: bomb, type: protobufType, encoding: 'gzip' }, tally);
      tally.add(answer.status);
      if (answer.status !== 413 && answer.status !== 400) tally.fail(`${mib} MiB bomb (${bomb.length} bytes): ${answer.status}`);
    }
    report('gzip bombs', tally, { inflatedMiB: [40, 256, 1024] });
  }

  // 8. Bad query parameters: 400 naming the parameter, never 5xx.
  {
    const tally = new Tally();
    const queries = [
      '/api/v1/samples?series=x&from=99999999999999999999', '/api/v1/samples?series=x&to=1e400', '/api/v1/samples?series=x&from=-1', '/api/v1/samples?series=x&from=abc',
      '/api/v1/samples?series=x&from=NaN', '/api/v1/samples?series=x&from=Infinity', '/api/v1/spans?since=-999999999999w', '/api/v1/logs?since=99999999999999999y',
      '/api/v1/series?colour=red', '/api/v1/latest?limit=-5', '/api/v1/query?name=x&agg=nope', '/api/v1/query?name=x&agg=sum&by=' + 'a,'.repeat(5000),
      '/api/v1/samples', '/api/v1/series?name=' + '%ff'.repeat(100), '/api/v1/query?name=x&agg=sum&step=0', '/api/v1/query?name=x&agg=sum&from=1e400',
    ];
    const notRefused: string[] = [];
    for (const path of queries) {
      const answer = await send(base, 'GET', path, { token: secrets.admin });
      tally.add(answer.status);
      if (answer.status !== 400) notRefused.push(`${answer.status} ${path.slice(0, 60)}`);
      if (answer.status >= 500 || answer.status === 0) tally.fail(`${path.slice(0, 80)}: ${answer.status}`);
    }
    report('bad query parameters', tally, { queries: queries.length, notRefused });
  }

  // 9. Slow loris: a body that stops arriving, authenticated or not, and headers that never end: the server
  //    answers (408, or 401 at once without a token) and closes the socket; nothing stays open for ever.
  {
    const tally = new Tally();
    const port = Number(new URL(base).port);
    const stalledBody = (auth: string): string => `POST /v1/metrics HTTP/1.1\r\nhost: x\r\n${auth}content-type: application/x-protobuf\r\ncontent-length: 1000\r\n\r\nabc`;
    const variants = [
      { name: 'stalled body, token', text: stalledBody(`authorization: Bearer ${secrets.admin}\r\n`), expect: [408, 503] },
      { name: 'stalled body, no token', text: stalledBody(''), expect: [401] },
      { name: 'stalled headers', text: `POST /v1/metrics HTTP/1.1\r\nhost: x\r\nauthorization: Bearer ${secrets.admin}\r\n`, expect: [0, 408] },
    ];
    const waitMillis = (requestTimeoutSeconds + 45) * 1000;
    const outcomes = await Promise.all(
      variants.flatMap((variant) =>
        Array.from({ length: 10 }, async () => {
          const started = Date.now();
          const answer = await rawSocket(port, variant.text, waitMillis);
          return { variant, status: Number(/^HTTP\/1\.1 (\d+)/.exec(answer.data)?.[1] ?? 0), closed: answer.closed, millis: Date.now() - started };
        }),
      ),
    );
    const slowest: Record<string, number> = {};
    for (const o of outcomes) {
      tally.add(`${o.variant.name}: ${o.status}`);
      slowest[o.variant.name] = Math.max(slowest[o.variant.name] ?? 0, o.millis);
      // Node sweeps for timed-out requests every second (core createApi): well within 10 s of the limit.
      if (!o.variant.expect.includes(o.status) || !o.closed || o.millis > (requestTimeoutSeconds + 10) * 1000) tally.fail(`${o.variant.name}: ${o.status}, closed ${o.closed} after ${o.millis} ms`);
    }
    report('slow-loris connections', tally, { requestTimeoutSeconds, slowestCloseMillis: slowest });
  }

  // 10. Connection flood past maxConnections, then the server still serves.
  {
    const tally = new Tally();
    const port = Number(new URL(base).port);
    const open: Socket[] = [];
    for (let i = 0; i < maxConnections * 3; i++) {
      const socket = connect(port, '127.0.0.1');
      socket.on('error', () => undefined);
      open.push(socket);
    }
    await new Promise((r) => setTimeout(r, 1_000));
    const alive = open.filter((s) => !s.destroyed && s.readyState === 'open').length;
    for (let i = 0; i < open.length; i++) tally.add(i < alive ? 'held' : 'dropped');
    if (alive > maxConnections) tally.fail(`${alive} connections held open, more than maxConnections ${maxConnections}`);
    for (const s of open) s.destroy();
    await new Promise((r) => setTimeout(r, 500));
    const after = await send(base, 'GET', '/api/v1/agents', { token: secrets.admin });
    if (after.status !== 200) tally.fail(`after the flood: ${after.status}`);
    report('connection flood', tally, { maxConnections, attempted: open.length, heldAtOnce: alive, servesAfter: after.status });
  }

  // 11. Unauthenticated requests on keep-alive: every 401 ends its connection; no route is revealed.
  {
    const tally = new Tally();
    const paths = ['/api/v1/agents', '/api/v1/nothing', '/v1/metrics', '/admin', '/', '/%2e%2e/etc/passwd', '/api/v1/samples?series=x'];
    for (const path of paths) {
      for (const auth of ['', 'authorization: Bearer wrong-token-123\r\n', 'authorization: Basic YWRtaW46YWRtaW4=\r\n', `authorization: Bearer ${secrets.admin}x\r\n`, `authorization: bearer  ${secrets.admin.slice(0, -1)}\r\n`]) {
        const answer = await rawSocket(Number(new URL(base).port), `GET ${path} HTTP/1.1\r\nhost: x\r\nconnection: keep-alive\r\n${auth}\r\n`, 3_000);
        const status = Number(/^HTTP\/1\.1 (\d+)/.exec(answer.data)?.[1] ?? 0);
        tally.add(status);
        if (status !== 401 || !answer.closed) tally.fail(`GET ${path} with "${auth.trim().slice(0, 30)}": ${status}, closed ${answer.closed}`);
      }
    }
    report('unauthenticated keep-alive', tally, { paths: paths.length, credentials: 5 });
  }

  // Still up and still ingesting.
  {
    const tally = new Tally();
    const answer = await sendJudged(base, '/v1/metrics', { token: secrets.web, body: protobuf('metrics', metricsObject('web-1', { name: 'attack.after' })), type: protobufType }, tally);
    tally.add(answer.status);
    const series = JSON.parse((await send(base, 'GET', '/api/v1/series?name=attack.after', { token: secrets.web })).body) as { series: unknown[] };
    if (answer.status !== 200 || series.series.length !== 1 || !collector.running || !scheduler.running) tally.fail(`after the attack: write ${answer.status}, series ${series.series.length}, collector ${collector.running}, scheduler ${scheduler.running}`);
    report('still serving after the attack', tally);
  }
  broken = results.some((r) => (r.violations as string[]).length > 0);
  const total = results.reduce((sum, r) => sum + (r.sent as number), 0);
  process.stdout.write(`${JSON.stringify({ total, classes: results.length, broken, seed: Number(args.seed) })}\n`);
} finally {
  await scheduler?.stop();
  await collector?.stop();
  await redis?.stop();
  rmSync(dir, { recursive: true, force: true });
}
process.exitCode = broken ? 1 : 0;

/** Writes `text` on a fresh socket; what came back and whether the server closed it within `waitMillis`. */
async function rawSocket(port: number, text: string, waitMillis: number): Promise<{ data: string; closed: boolean }> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    let data = '';
    const timer = setTimeout(() => {
      socket.destroy();
      resolve({ data, closed: false });
    }, waitMillis);
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => (data += chunk));
    socket.on('close', () => {
      clearTimeout(timer);
      resolve({ data, closed: true });
    });
    socket.on('error', () => undefined);
    socket.write(text);
  });
}
