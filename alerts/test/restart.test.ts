import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createLogger, encodeJsonMessage, freePort, redisKeys, RedisServer, sleep, type LatestPoint, type SlothEvent } from '@sloth/core';
import { AlertsService, fingerprint, loadAlertsConfig, type HistoryRecord } from '../src/index.js';
import { StandIn, type RecordedRequest } from './stand-ins.js';

const secret = `whsec_${Buffer.from('restart-test-secret-0123').toString('base64')}`;
const token = 'alerts-restart-token-0123';

async function until<T>(what: string, probe: () => Promise<T | undefined> | T | undefined, waitMillis = 20_000): Promise<T> {
  const deadline = Date.now() + waitMillis;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

interface WebhookAlert {
  status: string;
  labels: Record<string, string>;
  startsAt: string;
}
interface WebhookBody {
  status: string;
  alerts: WebhookAlert[];
}
interface ListedAlert {
  labels: Record<string, string>;
  state: string;
  startsAtMillis: number;
}

/**
 * The alerts role stopped and started again on the same Redis (real `redis-server`, real HTTP for the
 * collector's query API and the webhook receiver): what was active before the stop continues after it.
 */
describe('alerts role across its own restart', () => {
  const hook = new StandIn();
  const collector = new StandIn();
  let points: LatestPoint[] = [];
  let dir: string;
  let redisServer: RedisServer;
  let redis: Redis;
  let service: AlertsService | undefined;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'sloth-alerts-restart-'));
    redisServer = await RedisServer.start({ dir: join(dir, 'redis'), appendOnly: false });
    redis = new Redis(redisServer.url);
    collector.fallback = (request) => (request.path === '/api/v1/latest' ? { status: 200, body: { points } } : { status: 404, body: { code: 'SLOTH_ERR_NOT_FOUND', message: 'no such route' } });
    await hook.start();
    await collector.start();
  });
  afterEach(async () => {
    await service?.shutdown();
    service = undefined;
    points = [];
  });
  afterAll(async () => {
    await hook.stop();
    await collector.stop();
    redis?.disconnect();
    await redisServer?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const cpu = (agentId: string, value: number): void => {
    const key = `system.cpu.utilization{agent="${agentId}"}`;
    points = [...points.filter((p) => p.key !== key), { key, name: 'system.cpu.utilization', agentId, kind: 'gauge', unit: '1', labels: {}, t: Date.now(), v: value }];
  };
  /** Keeps the collector's points fresh (a pusher every 200 ms), as an agent reporting would. */
  const refresh = setInterval(() => {
    points = points.map((p) => ({ ...p, t: Date.now() }));
  }, 200);
  afterAll(() => clearInterval(refresh));

  /** One alerts file per test, its own webhook path and Redis prefix: tests do not see each other. */
  const setUp = (name: string, repeatInterval = '4h'): { rules: string; prefix: string; path: string } => {
    const path = `/${name}`;
    const rules = join(dir, `${name}.yaml`);
    writeFileSync(
      rules,
      `evaluation_interval: 1s
rules:
  - name: CpuWarn
    type: threshold
    metric: system.cpu.utilization
    op: '>'
    threshold: 0.7
    severity: warning
    summary: "CPU on {{ $labels.agent }} at {{ $value }}"
  - name: AgentDown
    type: absence
    agent_down: true
    severity: critical
route:
  receiver: team
  group_by: [alertname, agent]
  group_wait: 0s
  group_interval: 1s
  repeat_interval: ${repeatInterval}
receivers:
  - name: team
    webhook: [{ url: "${hook.url}${path}", secrets: ["${secret}"] }]
`,
    );
    return { rules, prefix: `r${name}${process.pid}`, path };
  };

  const start = async (setup: { rules: string; prefix: string }, logFile?: string): Promise<AlertsService> => {
    const config = loadAlertsConfig({
      env: {},
      flags: { dataDir: dir, redisPrefix: setup.prefix, port: await freePort(), metricsPort: 0, host: '127.0.0.1', tokens: [`${token}:ops`], rules: setup.rules, collectorUrl: collector.url },
    });
    const s = new AlertsService({ config, redisUrl: redisServer.url, tickMillis: 50, ...(logFile === undefined ? {} : { logger: createLogger({ name: 'alerts', level: 'info', destination: logFile }) }) });
    await s.start();
    return s;
  };

  const received = (path: string): Array<RecordedRequest & { json: WebhookBody }> => hook.requests.filter((r): r is RecordedRequest & { json: WebhookBody } => r.path === path);
  const sent = (path: string, status: 'firing' | 'resolved', alertname: string, agent: string): WebhookAlert[] =>
    received(path).flatMap((r) => r.json.alerts.filter((a) => a.status === status && a.labels.alertname === alertname && a.labels.agent === agent));
  const listed = (s: AlertsService | undefined, alertname: string, agent: string): ListedAlert | undefined =>
    s?.engine?.list(Date.now()).find((a) => a.labels.alertname === alertname && a.labels.agent === agent);
  /** Waits until the role has evaluated and flushed for a while: what it had to send, it sent. */
  const settle = async (): Promise<void> => {
    await sleep(2_500);
    await service?.engine?.idle();
  };
  const event = async (prefix: string, type: 'agent_down' | 'agent_up', agentId: string): Promise<void> => {
    const e: SlothEvent = { type, agentId, timestampMillis: Date.now(), attributes: {} };
    await redis.xadd(redisKeys(prefix).events, '*', ...encodeJsonMessage(e));
  };

  it('sends the "resolved" of a firing alert whose condition cleared while the role was down, exactly once', async () => {
    const setup = setUp('resolved-while-down');
    cpu('web-1', 0.95);
    service = await start(setup);
    await until('the firing webhook', () => sent(setup.path, 'firing', 'CpuWarn', 'web-1')[0]);
    await service.shutdown();
    service = undefined;
    cpu('web-1', 0.5);

    service = await start(setup);
    const resolved = await until('the resolved webhook', () => sent(setup.path, 'resolved', 'CpuWarn', 'web-1')[0]);
    await settle();
    expect(sent(setup.path, 'resolved', 'CpuWarn', 'web-1')).toHaveLength(1);
    expect(sent(setup.path, 'firing', 'CpuWarn', 'web-1')).toHaveLength(1);
    expect(resolved.startsAt).toBe(sent(setup.path, 'firing', 'CpuWarn', 'web-1')[0]?.startsAt);
    expect(listed(service, 'CpuWarn', 'web-1')?.state).toBe('resolved');
    // Notified and flushed: nothing of it is kept any more.
    await until('the state entry to be removed', async () => ((await redis.hlen(redisKeys(setup.prefix).key('alerts', 'active'))) === 0 ? true : undefined));
  });

  it('keeps startsAt of an alert still firing and sends no second firing notification before repeat_interval', async () => {
    const setup = setUp('still-firing');
    cpu('web-2', 0.95);
    service = await start(setup);
    const first = await until('the firing webhook', () => sent(setup.path, 'firing', 'CpuWarn', 'web-2')[0]);
    const startsAtMillis = (listed(service, 'CpuWarn', 'web-2') as ListedAlert).startsAtMillis;
    expect(new Date(startsAtMillis).toISOString()).toBe(first.startsAt);
    await service.shutdown();
    service = undefined;
    await sleep(1_100);

    service = await start(setup);
    const after = await until('the alert to be listed after the restart', () => listed(service, 'CpuWarn', 'web-2'));
    expect(after).toMatchObject({ state: 'firing', startsAtMillis });
    await settle();
    expect(listed(service, 'CpuWarn', 'web-2')).toMatchObject({ state: 'firing', startsAtMillis });
    expect(received(setup.path)).toHaveLength(1);

    // It still resolves as usual, with the start time it had before the restart.
    cpu('web-2', 0.1);
    const resolved = await until('the resolved webhook', () => sent(setup.path, 'resolved', 'CpuWarn', 'web-2')[0]);
    expect(resolved.startsAt).toBe(first.startsAt);
  });

  it('repeats a firing notification after a restart only once repeat_interval has passed', async () => {
    const setup = setUp('repeat-after-restart', '3s');
    cpu('web-3', 0.95);
    service = await start(setup);
    await until('the firing webhook', () => sent(setup.path, 'firing', 'CpuWarn', 'web-3')[0]);
    await service.shutdown();
    service = undefined;

    service = await start(setup);
    const repeat = await until('the repeated firing webhook', () => sent(setup.path, 'firing', 'CpuWarn', 'web-3')[1], 10_000);
    expect(repeat.startsAt).toBe(sent(setup.path, 'firing', 'CpuWarn', 'web-3')[0]?.startsAt);
    // The role's own record of when it sent them: the repeat came a repeat_interval after the first, not at the restart.
    const history = (await redis.lrange(redisKeys(setup.prefix).key('alerts', 'history'), 0, -1)).map((t) => JSON.parse(t) as HistoryRecord).filter((h) => h.outcome === 'sent').reverse();
    expect(history).toHaveLength(2);
    expect((history[1] as HistoryRecord).atMillis - (history[0] as HistoryRecord).atMillis).toBeGreaterThanOrEqual(3_000);
  });

  it('lists an agent-down alert after the restart (its event is behind the stream cursor) and resolves it when the agent is back', async () => {
    const setup = setUp('agent-down');
    service = await start(setup);
    await event(setup.prefix, 'agent_down', 'web-9');
    await until('the AgentDown webhook', () => sent(setup.path, 'firing', 'AgentDown', 'web-9')[0]);
    const startsAtMillis = (listed(service, 'AgentDown', 'web-9') as ListedAlert).startsAtMillis;
    await service.shutdown();
    service = undefined;

    service = await start(setup);
    await settle();
    expect(listed(service, 'AgentDown', 'web-9')).toMatchObject({ state: 'firing', startsAtMillis });
    expect(sent(setup.path, 'firing', 'AgentDown', 'web-9')).toHaveLength(1);

    await event(setup.prefix, 'agent_up', 'web-9');
    await until('the resolved webhook', () => sent(setup.path, 'resolved', 'AgentDown', 'web-9')[0]);
    expect(listed(service, 'AgentDown', 'web-9')?.state).toBe('resolved');
    await settle();
    expect(sent(setup.path, 'resolved', 'AgentDown', 'web-9')).toHaveLength(1);
  });

  it('resolves an agent-down alert whose agent came back while the role was down', async () => {
    const setup = setUp('agent-up-while-down');
    service = await start(setup);
    await event(setup.prefix, 'agent_down', 'web-8');
    await until('the AgentDown webhook', () => sent(setup.path, 'firing', 'AgentDown', 'web-8')[0]);
    await service.shutdown();
    service = undefined;
    await event(setup.prefix, 'agent_up', 'web-8');

    service = await start(setup);
    await until('the resolved webhook', () => sent(setup.path, 'resolved', 'AgentDown', 'web-8')[0]);
    await settle();
    expect(sent(setup.path, 'resolved', 'AgentDown', 'web-8')).toHaveLength(1);
    expect(sent(setup.path, 'firing', 'AgentDown', 'web-8')).toHaveLength(1);
  });

  it('starts with corrupt or old state in Redis, logging one warning, and keeps what is usable', async () => {
    const setup = setUp('corrupt');
    const key = redisKeys(setup.prefix).key('alerts', 'active');
    const good = {
      format: 1, state: 'firing', source: 'rule', rule: 'AgentDown', key: 'web-5', sourceLabels: { agent: 'web-5' }, fingerprint: '', labels: { agent: 'web-5', severity: 'critical', alertname: 'AgentDown' },
      annotations: {}, startsAtMillis: Date.UTC(2026, 0, 1), updatedAtMillis: Date.UTC(2026, 0, 1), flapping: false,
    };
    good.fingerprint = fingerprint(good.labels);
    await redis.hset(key, {
      'rule\u0000AgentDown\u0000web-5': JSON.stringify(good),
      'rule\u0000CpuWarn\u0000x': '{not json',
      // A format from before this change: no format number.
      'rule\u0000CpuWarn\u0000y': JSON.stringify({ fingerprint: 'f060991c9a41f666', labels: { alertname: 'CpuWarn' }, startsAt: 1 }),
      'rule\u0000AgentDown\u0000z': JSON.stringify({ ...good, state: 'exploded' }),
      // A rule no longer in the alerts file: its alert resolves (and nobody was notified of it here, so nothing is sent).
      'rule\u0000Gone\u0000web-6': JSON.stringify({ ...good, rule: 'Gone', key: 'web-6', sourceLabels: { agent: 'web-6' }, labels: { alertname: 'Gone', agent: 'web-6' }, fingerprint: fingerprint({ alertname: 'Gone', agent: 'web-6' }) }),
    });
    const logFile = join(dir, 'corrupt.log');
    service = await start(setup, logFile);
    await settle();
    const lines = (existsSync(logFile) ? readFileSync(logFile, 'utf8') : '').split('\n').filter((l) => l !== '');
    const warnings = lines.map((l) => JSON.parse(l) as { level: number; msg: string; skipped?: number; resolvedRules?: string[] }).filter((l) => l.level === 40);
    expect(warnings.map((w) => w.msg)).toEqual(['alerts state kept in Redis was partly unusable: unusable entries removed; alerts of rules removed or changed since resolve']);
    expect(warnings[0]).toMatchObject({ skipped: 3, resolvedRules: ['Gone'] });
    // The usable entry came back (AgentDown web-5 is down until its agent_up), with its start time.
    expect(listed(service, 'AgentDown', 'web-5')).toMatchObject({ state: 'firing', startsAtMillis: Date.UTC(2026, 0, 1) });
    expect(listed(service, 'Gone', 'web-6')?.state).toBe('resolved');
    // The unusable entries are gone from Redis (the resolved one once routing dropped it): the next start does not warn again.
    await until('only the usable entry to be left', async () => ((await redis.hkeys(key)).join() === 'rule\u0000AgentDown\u0000web-5' ? true : undefined));

    await service.shutdown();
    await redis.del(key);
    await redis.set(key, 'a string, not a hash');
    const secondLog = join(dir, 'corrupt-2.log');
    service = await start(setup, secondLog);
    const warned = (): string[] => (existsSync(secondLog) ? readFileSync(secondLog, 'utf8') : '').split('\n').filter((l) => l.includes('"level":40'));
    await until('the warning', () => (warned().length > 0 ? true : undefined));
    await settle();
    const second = warned();
    expect(second).toHaveLength(1);
    expect(second[0]).toContain('is not a hash');
    expect(await redis.type(key)).toBe('none');
  });
});
