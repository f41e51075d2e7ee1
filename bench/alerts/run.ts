/**
 * One evaluation-and-routing cycle of the alerts engine at scale: 100,000
 * active alerts (one threshold rule over 100,000 series) in 10,000 groups
 * (group_by agent, 10,000 agents), with a route tree, an inhibition rule and
 * silences in play. Receivers count notifications and return at once, so the
 * figures are the engine's own cost.
 *
 * With --redis the notification log, notification history, silences and
 * dead letters live in a redis-server the bench starts (as in the role); the
 * CPU figure is still this process's only (redis-server runs beside it).
 *
 * With --http the threshold rule reads the 100,000 latest points over HTTP
 * through core's QueryClient, as the role reads the collector: a child
 * process serves `GET /api/v1/latest` from a file written before each cycle
 * (keep-alive 65 s, as Sloth's HTTP servers: with Node's default 5 s the
 * socket closes while the bench prepares the next cycle and the read fails),
 * so its cost is outside this process while the fetch, JSON parse and shape
 * check are in the figure.
 *
 *   node --expose-gc --import tsx bench/alerts/run.ts --agents 10000 --series-per-agent 10 --cycles 5 [--redis] [--http]
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import { QueryClient, redisKeys, RedisServer, type LatestPoint, type QueryResult } from '@sloth/core';
import { AlertsEngine, Delivery, NotificationLog, parseAlertsFile, SignalStore, Silences, type CurrentValues, type Integration } from '@sloth/alerts';

const { values: args } = parseArgs({
  options: {
    agents: { type: 'string', default: '10000' },
    'series-per-agent': { type: 'string', default: '10' },
    cycles: { type: 'string', default: '5' },
    redis: { type: 'boolean', default: false },
    http: { type: 'boolean', default: false },
  },
});
const agents = Number(args.agents);
const perAgent = Number(args['series-per-agent']);
const cycles = Number(args.cycles);
for (const [name, value] of [['--agents', agents], ['--series-per-agent', perAgent], ['--cycles', cycles]] as const) {
  if (!Number.isInteger(value) || value < 1) throw new Error(`${name} must be a positive integer, got ${JSON.stringify(String(value))}`);
}

const redisDir = args.redis ? mkdtempSync(join(tmpdir(), 'sloth-bench-alerts-')) : undefined;
const redisServer = redisDir === undefined ? undefined : await RedisServer.start({ dir: redisDir });
const redis = redisServer === undefined ? undefined : new Redis(redisServer.url);
const keys = redisKeys('bench');

/** The collector's `GET /api/v1/latest`, served by a child process from a file. */
const httpDir = args.http ? mkdtempSync(join(tmpdir(), 'sloth-bench-alerts-http-')) : undefined;
const latestFile = httpDir === undefined ? '' : join(httpDir, 'latest.json');
const server =
  httpDir === undefined
    ? undefined
    : spawn(
        process.execPath,
        [
          '-e',
          `const fs = require('node:fs'); const s = require('node:http').createServer((req, res) => { const body = fs.readFileSync(process.argv[1]); res.writeHead(200, { 'content-type': 'application/json', 'content-length': body.length }); res.end(body); }); s.keepAliveTimeout = 65000; s.listen(0, '127.0.0.1', () => console.log(s.address().port));`,
          latestFile,
        ],
        { stdio: ['ignore', 'pipe', 'inherit'] },
      );
const serverPort =
  server === undefined
    ? 0
    : await new Promise<number>((resolve, reject) => {
        server.stdout?.once('data', (chunk: Buffer) => resolve(Number(chunk.toString().trim())));
        server.once('exit', (code) => reject(new Error(`the latest-points server exited (${code})`)));
      });

class Table implements CurrentValues {
  points: LatestPoint[] = [];
  async latest(): Promise<QueryResult<LatestPoint[]>> {
    return { ok: true, value: this.points };
  }
}

const file = parseAlertsFile(`
evaluation_interval: 15s
rules:
  - name: HighCpu
    type: threshold
    metric: system.cpu.utilization
    op: '>'
    threshold: 0.9
    recover: 0.8
    severity: warning
    summary: "CPU {{ $labels.cpu }} on {{ $labels.agent }} at {{ $value | humanizePercentage }}"
route:
  receiver: team
  group_by: [agent]
  group_wait: 0s
  group_interval: 15s
  repeat_interval: 4h
  routes:
    - matchers: ['severity="critical"']
      receiver: pager
    - matchers: ['agent=~"agent-9.*"']
      receiver: audit
      continue: true
inhibit_rules:
  - source_matchers: ['severity="critical"']
    target_matchers: ['severity="warning"']
    equal: [agent]
receivers: [{ name: team }, { name: pager }, { name: audit }]
`);

const table = new Table();
let t = Date.UTC(2026, 0, 5, 12);
function fill(highShare: number, seed: number): void {
  const points: LatestPoint[] = [];
  for (let a = 0; a < agents; a += 1) {
    for (let s = 0; s < perAgent; s += 1) {
      const i = a * perAgent + s;
      // Every series is over the threshold, except a rotating slice that recovers then fires again.
      const high = ((i + seed) % 1000) / 1000 < highShare;
      points.push({ key: `system.cpu.utilization{agent="agent-${a}",cpu="${s}"}`, name: 'system.cpu.utilization', agentId: `agent-${a}`, kind: 'gauge', unit: '1', labels: { cpu: String(s) }, t, v: high ? 0.95 : 0.5 });
    }
  }
  table.points = points;
  if (latestFile !== '') writeFileSync(latestFile, JSON.stringify({ points }));
}

let notifications = 0;
const counter: Integration = { name: 'counter', sendResolved: true, send: async () => ((notifications += 1), { kind: 'success' }) };
const silences = redis === undefined ? new Silences() : new Silences({ redis, keys });
const engine = new AlertsEngine({
  file,
  signals: new SignalStore(),
  values: server === undefined ? table : new QueryClient({ baseUrl: `http://127.0.0.1:${serverPort}` }),
  silences,
  log: redis === undefined ? new NotificationLog() : new NotificationLog({ redis, keys }),
  delivery: new Delivery({ sleep: async () => undefined, pacingMillis: 0, redis, keys }),
  integrations: () => [counter],
  clock: () => t,
});
const rows: string[] = [];
let redisNote = '';
try {
  await silences.add({ matchers: ['agent="agent-7"'], endsAtMillis: t + 86_400_000, createdBy: 'bench', comment: 'bench' }, t);
  await silences.add({ matchers: ['agent=~"agent-1.5"', 'cpu="3"'], endsAtMillis: t + 86_400_000, createdBy: 'bench', comment: 'bench' }, t);

  const gc = (globalThis as { gc?: () => void }).gc;
  for (let c = 0; c < cycles; c += 1) {
    // Cycle 0: every alert new. Then 1 % of the series change state per cycle (half resolve, half fire again).
    fill(c === 0 ? 1 : 0.99, c * 7);
    t += 15_000;
    gc?.();
    notifications = 0;
    const start = process.hrtime.bigint();
    const cpuStart = process.cpuUsage();
    const sent = await engine.cycle(t);
    await engine.idle();
    const millis = Number(process.hrtime.bigint() - start) / 1e6;
    const cpu = process.cpuUsage(cpuStart);
    const cpuMillis = (cpu.user + cpu.system) / 1000;
    let active = 0;
    for (const alert of engine.dispatcher.allAlerts()) if (alert.status === 'firing') active += 1;
    const rssMb = process.memoryUsage().rss / 1024 / 1024;
    rows.push(`| ${c} | ${active.toLocaleString('en')} | ${engine.dispatcher.groupCount.toLocaleString('en')} | ${sent.length.toLocaleString('en')} (${notifications.toLocaleString('en')} delivered) | ${millis.toFixed(0)} | ${cpuMillis.toFixed(0)} | ${rssMb.toFixed(0)} |`);
  }
  if (redis !== undefined) {
    // Everything the cycles wrote reached Redis (ioredis pipelines the writes; this waits for the last).
    const logged = await redis.hlen(keys.key('alerts', 'nflog'));
    redisNote = `Redis after the run: ${logged.toLocaleString('en')} notification-log entries, ${(await redis.llen(keys.key('alerts', 'history'))).toLocaleString('en')} history records (kept: the last 1,000)`;
  }
} finally {
  server?.kill('SIGTERM');
  if (httpDir !== undefined) rmSync(httpDir, { recursive: true, force: true });
  redis?.disconnect();
  await redisServer?.stop();
  if (redisDir !== undefined) rmSync(redisDir, { recursive: true, force: true });
}
console.log(`alerts engine: ${agents.toLocaleString('en')} agents × ${perAgent} series; cycle = evaluate + route + deliver (no-op receivers)${redis === undefined ? '' : '; notification log, history and silences in Redis'}${server === undefined ? '' : '; points read over HTTP (QueryClient)'}`);
console.log('| cycle | firing alerts | groups | notifications | wall ms | CPU ms | RSS MB |');
console.log('|---:|---:|---:|---:|---:|---:|---:|');
for (const row of rows) console.log(row);
if (redisNote !== '') console.log(redisNote);
