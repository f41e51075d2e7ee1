import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { canConnect, decodeJsonMessage, encodeJsonMessage, freePort, redisKeys, RedisServer, sleep, slothEventSchema, type SlothEvent } from '@sloth/core';
import { AlertsService, loadAlertsConfig, verifySignature } from '../src/index.js';
import { StandIn } from './stand-ins.js';

const secret = `whsec_${Buffer.from('service-test-secret-0123').toString('base64')}`;
const token = 'alerts-token-0123456789';

async function until<T>(what: string, probe: () => Promise<T | undefined> | T | undefined, waitMillis = 30_000): Promise<T> {
  const deadline = Date.now() + waitMillis;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

describe('alerts role with a real Redis and a real Alertmanager', () => {
  const hook = new StandIn();
  let dir: string;
  let redisServer: RedisServer;
  let redis: Redis;
  let alertmanager: ChildProcess | undefined;
  let amUrl: string;
  let service: AlertsService;
  let port: number;
  const prefix = `t${Math.random().toString(36).slice(2, 8)}`;
  const keys = redisKeys(prefix);

  const startService = async (): Promise<AlertsService> => {
    const config = loadAlertsConfig({
      env: {},
      flags: { dataDir: dir, redisPrefix: prefix, port, host: '127.0.0.1', tokens: [`${token}:ops`], rules: join(dir, 'alerts.yaml'), collectorUrl: 'http://127.0.0.1:9' },
    });
    const s = new AlertsService({ config, redisUrl: redisServer.url, tickMillis: 100 });
    await s.start();
    return s;
  };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'sloth-alerts-svc-'));
    redisServer = await RedisServer.start({ dir: join(dir, 'redis'), appendOnly: false });
    redis = new Redis(redisServer.url);
    // Slack's Web API, for the bot-mode integration of the receiver.
    hook.fallback = (request) => {
      if (!request.path.startsWith('/slack-api/')) return { status: 200, body: 'ok' };
      const body = request.json as { ts?: string };
      return { status: 200, body: { ok: true, channel: 'C0OPS', ts: body.ts ?? '1700000000.000100' } };
    };
    await hook.start();
    port = await freePort();
    writeFileSync(
      join(dir, 'alerts.yaml'),
      `evaluation_interval: 1s
route:
  receiver: ops
  group_by: [alertname, agent]
  group_wait: 0s
  group_interval: 1s
  repeat_interval: 4h
receivers:
  - name: ops
    webhook: [{ url: "${hook.url}/sloth", secrets: ["${secret}"] }]
    slack: [{ bot_token: "xoxb-service-test-0123", channel: "#ops", api_url: "${hook.url}/slack-api", on_resolve: update }]
    remediation: {}
`,
    );
    service = await startService();

    const amPort = await freePort();
    amUrl = `http://127.0.0.1:${amPort}`;
    const amDir = join(dir, 'alertmanager');
    writeFileSync(
      join(dir, 'alertmanager.yml'),
      `route:
  receiver: sloth
  group_by: [alertname]
  group_wait: 1s
  group_interval: 1s
receivers:
  - name: sloth
    webhook_configs:
      - url: http://127.0.0.1:${port}/api/v1/intake/alertmanager
        send_resolved: true
        http_config: { authorization: { credentials: ${token} } }
`,
    );
    alertmanager = spawn('/usr/bin/prometheus-alertmanager', [`--config.file=${join(dir, 'alertmanager.yml')}`, `--storage.path=${amDir}`, `--web.listen-address=127.0.0.1:${amPort}`, '--cluster.listen-address='], { stdio: 'ignore' });
    await until('alertmanager to listen', async () => ((await canConnect('127.0.0.1', amPort, 200)) ? true : undefined));
  });

  afterAll(async () => {
    alertmanager?.kill('SIGTERM');
    await service?.shutdown();
    await hook.stop();
    redis?.disconnect();
    await redisServer?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('takes Alertmanager alerts through the intake into routing: a signed webhook, a Slack bot message with the last remediation, and a playbook trigger', async () => {
    // The scheduler announced a remediation on db-1 (sloth:events); the Slack message shows it.
    const remediation: SlothEvent = { type: 'remediation', agentId: 'db-1', timestampMillis: Date.now(), attributes: { playbook: 'clean-directory', state: 'succeeded', message: 'freed 2.1 GB in /var/log' } };
    await redis.xadd(keys.events, '*', ...encodeJsonMessage(remediation));
    await until('the role to read the remediation event', () => service.signals.remediations.get('db-1'));
    const startsAt = new Date().toISOString();
    const posted = await fetch(`${amUrl}/api/v2/alerts`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify([{ labels: { alertname: 'DiskFull', agent: 'db-1', severity: 'critical' }, annotations: { summary: 'disk / is 97% full' }, startsAt }]),
    });
    expect(posted.status).toBe(200);
    const request = await until('the webhook from Sloth', () => hook.requests.find((r) => r.path === '/sloth'));
    const body = request.json as { status: string; alerts: Array<{ labels: Record<string, string>; annotations: Record<string, string> }> };
    expect(body.status).toBe('firing');
    expect(body.alerts.map((a) => [a.labels.alertname, a.labels.agent, a.annotations.summary])).toEqual([['DiskFull', 'db-1', 'disk / is 97% full']]);
    expect(verifySignature([secret], request.headers as Record<string, string>, request.body)).toEqual({ ok: true });

    const slack = await until('the Slack bot message', () => hook.requests.find((r) => r.path === '/slack-api/chat.postMessage'));
    expect(slack.headers.authorization).toBe('Bearer xoxb-service-test-0123');
    expect(slack.json).toMatchObject({ channel: '#ops', text: '[FIRING:1] DiskFull (agent=db-1)' });
    expect(JSON.stringify(slack.json)).toContain('*Remediation:* `clean-directory` succeeded — freed 2.1 GB in /var/log');

    const alertEvents = async (): Promise<SlothEvent[]> => (await redis.xrange(keys.events, '-', '+')).map(([, fields]) => decodeJsonMessage(fields, slothEventSchema)).filter((e) => e.type === 'alert');
    const [event] = await until('the alert event on sloth:events', async () => {
      const list = await alertEvents();
      return list.length > 0 ? list : undefined;
    });
    expect(event).toMatchObject({ type: 'alert', agentId: 'db-1', attributes: { name: 'DiskFull', level: 'critical', message: 'disk / is 97% full', source: 'sloth-alerts' } });

    const listed = (await (await fetch(`http://127.0.0.1:${port}/api/v1/alerts`, { headers: { authorization: `Bearer ${token}` } })).json()) as { alerts: Array<{ labels: Record<string, string>; state: string; source: string }> };
    expect(listed.alerts.map((a) => [a.labels.alertname, a.state, a.source])).toEqual([['DiskFull', 'firing', 'alertmanager']]);
  });

  it('resolves an Alertmanager alert when its resolution arrives, and notifies the resolution', async () => {
    const before = hook.requests.filter((r) => r.path === '/sloth').length;
    const resolved = await fetch(`http://127.0.0.1:${port}/api/v1/intake/alertmanager`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ version: '4', status: 'resolved', alerts: [{ status: 'resolved', labels: { alertname: 'DiskFull', agent: 'db-1', severity: 'critical' }, annotations: {}, startsAt: new Date(Date.now() - 60_000).toISOString(), endsAt: new Date().toISOString() }] }),
    });
    expect(await resolved.json()).toEqual({ accepted: { firing: 0, resolved: 1 } });
    const request = await until('the resolved webhook', () => hook.requests.filter((r) => r.path === '/sloth')[before]);
    expect(request.json).toMatchObject({ status: 'resolved', alerts: [{ status: 'resolved', labels: { alertname: 'DiskFull', agent: 'db-1' } }] });
    // Bot mode: the original Slack message is updated (its ts was kept in Redis), not a new one posted.
    const update = await until('the Slack update', () => hook.requests.find((r) => r.path === '/slack-api/chat.update'));
    expect(update.json).toMatchObject({ channel: 'C0OPS', ts: '1700000000.000100', text: '[RESOLVED:1] DiskFull (agent=db-1)' });
    expect(hook.requests.filter((r) => r.path === '/slack-api/chat.postMessage')).toHaveLength(1);
    // A resolution does not trigger playbooks: still the one alert event.
    const events = (await redis.xrange(keys.events, '-', '+')).map(([, fields]) => decodeJsonMessage(fields, slothEventSchema));
    expect(events.filter((e) => e.type === 'alert')).toHaveLength(1);
  });

  it('refuses the intake and the API without a token, with the standard error body', async () => {
    const answer = await fetch(`http://127.0.0.1:${port}/api/v1/intake/alertmanager`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    expect(answer.status).toBe(401);
    expect(await answer.json()).toMatchObject({ code: 'SLOTH_ERR_AUTH' });
    const bad = await fetch(`http://127.0.0.1:${port}/api/v1/intake/alertmanager`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, body: JSON.stringify({ version: '3', status: 'firing', alerts: [] }) });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { message: string }).message).toContain('version "3" is not supported');
  });

  it('records the silence author from the token, and sends no duplicate after a restart', async () => {
    const created = await fetch(`http://127.0.0.1:${port}/api/v1/silences`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ matchers: ['agent="web-9"'], duration: '2h', comment: 'kernel upgrade' }),
    });
    expect(created.status).toBe(201);
    const { silence } = (await created.json()) as { silence: { id: string; createdBy: string; state: string } };
    expect(silence).toMatchObject({ createdBy: 'ops', state: 'active' });

    const memoryFull = JSON.stringify({ version: '4', status: 'firing', alerts: [{ status: 'firing', labels: { alertname: 'MemoryFull', agent: 'db-2', severity: 'warning' }, annotations: {}, startsAt: new Date().toISOString() }] });
    const post = (): Promise<Response> => fetch(`http://127.0.0.1:${port}/api/v1/intake/alertmanager`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, body: memoryFull });
    expect((await post()).status).toBe(200);
    await until('the MemoryFull webhook', () => hook.requests.find((r) => r.path === '/sloth' && r.body.includes('MemoryFull')));
    await until('the MemoryFull Slack message', () => hook.requests.find((r) => r.path.startsWith('/slack-api/') && r.body.includes('MemoryFull')));
    const sent = hook.requests.filter((r) => r.path === '/sloth').length;
    const sentToSlack = hook.requests.filter((r) => r.path.startsWith('/slack-api/')).length;
    await service.shutdown();
    service = await startService();
    // The restarted role lost its in-memory alerts; the same firing alert arrives again.
    expect((await post()).status).toBe(200);
    const flushedAt = Date.now();
    // Wait until the group has been flushed at least twice after the restart, then count.
    await until('two flushes of the group', () => service.engine?.dispatcher.groupSummaries().find((g) => g.nextFlushMillis > flushedAt + 1500));
    expect(hook.requests.filter((r) => r.path === '/sloth').length).toBe(sent);
    expect(hook.requests.filter((r) => r.path.startsWith('/slack-api/')).length).toBe(sentToSlack);
    const silences = (await (await fetch(`http://127.0.0.1:${port}/api/v1/silences`, { headers: { authorization: `Bearer ${token}` } })).json()) as { silences: Array<{ id: string }> };
    expect(silences.silences.map((s) => s.id)).toContain(silence.id);
  });
});
