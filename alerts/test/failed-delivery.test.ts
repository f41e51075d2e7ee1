import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { redisKeys, RedisServer, type Logger } from '@sloth/core';
import { Delivery, NotificationLog, SlackIntegration, WebhookIntegration } from '../src/index.js';
import { rig, T0 } from './helpers.js';
import { StandIn, testAlert, testNotification } from './stand-ins.js';

const rules = `evaluation_interval: 15s
rules:
  - name: HighCpu
    type: threshold
    metric: system.cpu.utilization
    op: '>'
    threshold: 0.9
    severity: critical
route:
  receiver: team
  group_by: [alertname, agent]
  group_wait: 0s
  group_interval: 1m
  repeat_interval: 4h
receivers:
  - name: team
`;

describe('a failed delivery is not a sent one', () => {
  const receiver = new StandIn();
  let dir: string;
  let server: RedisServer;
  let redis: Redis;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'sloth-alerts-failed-'));
    server = await RedisServer.start({ dir, appendOnly: false });
    redis = new Redis(server.url);
    await receiver.start();
  });
  afterAll(async () => {
    await receiver.stop();
    redis.disconnect();
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('sends a dead-lettered notification again at the next group_interval, the resolved one included, and keeps the dead letters in history', async () => {
    const keys = redisKeys('failed-delivery');
    const delivery = new Delivery({ redis, keys, sleep: async () => undefined });
    const log = new NotificationLog({ redis, keys });
    const r = rig(rules, {
      log,
      delivery,
      integrations: (spec) => [new WebhookIntegration(`${spec.name}/webhook[0]`, { url: `${receiver.url}/hook`, secrets: ['plain-secret-0123'], sendResolved: true, maxAttempts: 2 }, { externalUrl: 'http://alerts' })],
    });
    const hooks = (): Array<{ status: string; alerts: Array<{ status: string }> }> => receiver.requests.filter((q) => q.path === '/hook').map((q) => q.json as { status: string; alerts: Array<{ status: string }> });
    let up = false;
    receiver.fallback = () => (up ? { status: 200, body: 'ok' } : { status: 503, body: 'down' });

    // Fires while the receiver is down: two attempts, a dead letter.
    r.values.set('system.cpu.utilization', 'web-2', 0.95, T0 + 15_000);
    await r.step(15_000);
    expect(hooks().map((h) => h.status)).toEqual(['firing', 'firing']);
    // The receiver is back: the next group_interval (1 min) sends it again, not the repeat_interval (4 h).
    up = true;
    for (let i = 0; i < 4; i += 1) {
      r.values.set('system.cpu.utilization', 'web-2', 0.95, r.clock.now + 15_000);
      await r.step(15_000);
    }
    expect(hooks().map((h) => h.status)).toEqual(['firing', 'firing', 'firing']);

    // Resolves while the receiver is down: the resolution is sent once it is back.
    up = false;
    for (let i = 0; i < 4; i += 1) {
      r.values.set('system.cpu.utilization', 'web-2', 0.5, r.clock.now + 15_000);
      await r.step(15_000);
    }
    expect(hooks().map((h) => h.status)).toEqual(['firing', 'firing', 'firing', 'resolved', 'resolved']);
    up = true;
    for (let i = 0; i < 4; i += 1) {
      r.values.set('system.cpu.utilization', 'web-2', 0.5, r.clock.now + 15_000);
      await r.step(15_000);
    }
    expect(hooks().map((h) => h.status)).toEqual(['firing', 'firing', 'firing', 'resolved', 'resolved', 'resolved']);
    expect(hooks().at(-1)?.alerts.map((a) => a.status)).toEqual(['resolved']);
    // Nothing more once the resolution got through.
    await r.step(60_000);
    await r.step(60_000);
    expect(hooks()).toHaveLength(6);

    const history = await log.history(10);
    expect(history.map((h) => h.outcome)).toEqual(['sent', 'dead-letter', 'sent', 'dead-letter']);
    expect((await delivery.deadLetters()).map((d) => [d.attempts, d.firing.length, d.resolved.length])).toEqual([
      [2, 0, 1],
      [2, 1, 0],
    ]);
  });

  it('resends only to the integrations that did not get it', async () => {
    let up = false;
    receiver.fallback = (request) => (request.path === '/flaky' && !up ? { status: 503, body: 'down' } : { status: 200, body: 'ok' });
    const r = rig(rules, {
      integrations: (spec) => [
        new WebhookIntegration(`${spec.name}/webhook[0]`, { url: `${receiver.url}/steady`, secrets: ['plain-secret-0123'], sendResolved: true }, { externalUrl: 'http://alerts' }),
        new WebhookIntegration(`${spec.name}/webhook[1]`, { url: `${receiver.url}/flaky`, secrets: ['plain-secret-0123'], sendResolved: true, maxAttempts: 1 }, { externalUrl: 'http://alerts' }),
      ],
    });
    const count = (path: string): number => receiver.requests.filter((q) => q.path === path).length;
    r.values.set('system.cpu.utilization', 'web-3', 0.95, T0 + 15_000);
    await r.step(15_000);
    expect([count('/steady'), count('/flaky')]).toEqual([1, 1]);
    up = true;
    for (let i = 0; i < 4; i += 1) {
      r.values.set('system.cpu.utilization', 'web-3', 0.95, r.clock.now + 15_000);
      await r.step(15_000);
    }
    expect([count('/steady'), count('/flaky')]).toEqual([1, 2]);
  });
});

describe('Retry-After and shutdown', () => {
  const slack = new StandIn();
  let silent: Server;
  let silentUrl: string;
  beforeAll(async () => {
    await slack.start();
    // A receiver that takes requests and never answers.
    silent = createServer(() => undefined);
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    silentUrl = `http://127.0.0.1:${(silent.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await slack.stop();
    silent.closeAllConnections();
    await new Promise<void>((resolve) => silent.close(() => resolve()));
  });

  const integration = (url: string, name: string): SlackIntegration => new SlackIntegration(name, { webhookUrl: url, onResolve: 'update', apiUrl: 'http://unused', sendResolved: true }, { links: {} });
  const cpu = { alertname: 'HighCpu', agent: 'web-1', severity: 'critical' };

  it('honours Retry-After up to 60 s: a 429 asking for 600 s waits 60 s, then tries again', async () => {
    const clock = { now: 1_000_000 };
    const waits: number[] = [];
    const warnings: Array<Record<string, unknown>> = [];
    const logger = { warn: (fields: Record<string, unknown>) => void warnings.push(fields), error: () => undefined } as unknown as Logger;
    const delivery = new Delivery({ clock: () => clock.now, sleep: async (ms) => void (waits.push(ms), (clock.now += ms)), logger });
    slack.answer('/hooks/slow', { status: 429, headers: { 'retry-after': '600' }, body: 'rate_limited' });
    const [outcome] = await delivery.deliver(testNotification([testAlert(cpu)]), [integration(`${slack.url}/hooks/slow`, 'team/slack[0]')]);
    expect(outcome).toMatchObject({ outcome: 'sent', attempts: 2 });
    expect(waits).toEqual([60_000]);
    // The cut is visible: the log says what the server asked for and when Sloth tries again.
    expect(warnings).toEqual([expect.objectContaining({ retryInMillis: 60_000, retryAfterAskedMillis: 600_000 })]);
  });

  it('stop() ends a Retry-After wait at once and sends nothing more; abort() cancels a request in flight', async () => {
    const delivery = new Delivery();
    slack.answer('/hooks/held', { status: 429, headers: { 'retry-after': '600' }, body: 'rate_limited' });
    const held = delivery.deliver(testNotification([testAlert(cpu)]), [integration(`${slack.url}/hooks/held`, 'team/slack[1]')]);
    while (slack.requests.filter((q) => q.path === '/hooks/held').length === 0) await new Promise((resolve) => setTimeout(resolve, 10));
    delivery.stop();
    expect(await held).toEqual([{ integration: 'team/slack[1]', outcome: 'aborted', attempts: 1, reason: 'the alerts role stopped' }]);
    expect(slack.requests.filter((q) => q.path === '/hooks/held')).toHaveLength(1);

    const other = new Delivery();
    let arrived = false;
    silent.once('request', () => (arrived = true));
    const hanging = other.deliver(testNotification([testAlert(cpu)]), [integration(`${silentUrl}/hooks/never`, 'team/slack[2]')]);
    while (!arrived) await new Promise((resolve) => setTimeout(resolve, 10));
    other.abort();
    expect(await hanging).toMatchObject([{ outcome: 'aborted', attempts: 1 }]);
  });
});
