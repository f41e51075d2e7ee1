import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { redisKeys, RedisServer } from '@sloth/core';
import { Delivery, RedisSlackThreads, SlackIntegration, slackLimits } from '../src/index.js';
import { StandIn, testAlert, testNotification } from './stand-ins.js';

// Block Kit JSON as Slack received it: loosely typed on purpose, the assertions check the shape.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Block = Record<string, any>;

const cpu = { alertname: 'HighCpu', severity: 'critical', agent: 'web-1', metric: 'system.cpu.utilization' };

describe('Slack receiver', () => {
  const slack = new StandIn();
  let dir: string;
  let server: RedisServer;
  let redis: Redis;
  const keys = redisKeys(`t${Math.random().toString(36).slice(2, 8)}`);

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'sloth-alerts-slack-'));
    server = await RedisServer.start({ dir, appendOnly: false });
    redis = new Redis(server.url);
    await slack.start();
  });
  afterAll(async () => {
    await slack.stop();
    redis.disconnect();
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const webhook = (path: string, maxAttempts = 5, name = 'team/slack[0]'): SlackIntegration =>
    new SlackIntegration(name, { webhookUrl: `${slack.url}${path}`, onResolve: 'update', apiUrl: slack.url, sendResolved: true, maxAttempts }, {
      links: { dashboard: 'https://grafana.example/d/host?var-agent={{ $labels.agent }}', silence: 'http://alerts.example:8081/silence' },
      remediationOf: (agent) => (agent === 'web-1' ? { playbook: 'kill-top-cpu', state: 'succeeded', message: 'signalled pid 4242', atMillis: 0 } : undefined),
    });

  it('posts Block Kit with severity, agent/series, value against the expected range, links and the remediation', async () => {
    const delivery = new Delivery({ sleep: async () => undefined });
    const alert = testAlert(cpu, { value: 0.97, expectedLow: 0.1, expectedHigh: 0.4, annotations: { summary: 'CPU saturated', runbook_url: 'https://runbooks.example/cpu' } });
    const [outcome] = await delivery.deliver(testNotification([alert]), [webhook('/hooks/T1/B1/ok')]);
    expect(outcome?.outcome).toBe('sent');
    const body = slack.requests.find((r) => r.path === '/hooks/T1/B1/ok')?.json as { text: string; blocks: Block[] };
    expect(body.text).toBe('[FIRING:1] HighCpu');
    expect(body.blocks[0]).toEqual({ type: 'header', text: { type: 'plain_text', text: '[FIRING:1] HighCpu' } });
    const section = body.blocks[1]?.text.text as string;
    expect(section).toContain(':red_circle: *HighCpu* — CPU saturated');
    expect(section).toContain('*Severity:* critical');
    expect(section).toContain('agent `web-1`, series `system.cpu.utilization`');
    expect(section).toContain('*Value:* 0.97 (expected 0.1 – 0.4)');
    expect(section).toContain('*Remediation:* `kill-top-cpu` succeeded — signalled pid 4242');
    const buttons = (body.blocks[2]?.elements as Array<{ text: { text: string }; url: string }>).map((b) => [b.text.text, b.url]);
    expect(buttons).toEqual([
      ['Dashboard', 'https://grafana.example/d/host?var-agent=web-1'],
      ['Runbook', 'https://runbooks.example/cpu'],
      ['Silence', `http://alerts.example:8081/silence?matchers=${encodeURIComponent('alertname="HighCpu",agent="web-1"')}`],
    ]);
  });

  it('without a silence page of the team\'s own, gives the command that silences the alert instead of a button to the token-protected API', async () => {
    const delivery = new Delivery({ sleep: async () => undefined });
    const noPage = new SlackIntegration('team/slack[1]', { webhookUrl: `${slack.url}/hooks/no-page`, onResolve: 'update', apiUrl: slack.url, sendResolved: true, maxAttempts: 1 }, { links: {}, remediationOf: () => undefined });
    await delivery.deliver(testNotification([testAlert({ ...cpu, agent: "web-1'; rm -rf /" })]), [noPage]);
    const body = slack.requests.find((r) => r.path === '/hooks/no-page')?.json as { blocks: Block[] };
    const text = JSON.stringify(body.blocks);
    expect(text).not.toContain('"Silence"');
    expect(text).not.toContain('/api/v1/silences');
    const context = body.blocks.find((b) => b.type === 'context' && (b.elements[0]?.text as string).startsWith('Silence:'));
    // The label value is quoted for the shell: its quote cannot end the argument.
    expect(context?.elements[0]?.text).toBe(`Silence: \`sloth alerts silence 'alertname="HighCpu"' 'agent="web-1'\\''; rm -rf /"' --duration 2h --comment "why"\``);
  });

  it('stays inside 50 blocks and 3000 characters per text', async () => {
    const delivery = new Delivery({ sleep: async () => undefined });
    const alerts = Array.from({ length: 60 }, (_, i) => testAlert({ ...cpu, agent: `web-${i}` }, { annotations: { description: 'x'.repeat(5000) } }));
    await delivery.deliver(testNotification(alerts), [webhook('/hooks/many')]);
    const body = slack.requests.find((r) => r.path === '/hooks/many')?.json as { blocks: Block[] };
    expect(body.blocks.length).toBeLessThanOrEqual(slackLimits.blocks);
    for (const block of body.blocks) if (block.text?.text !== undefined) expect((block.text.text as string).length).toBeLessThanOrEqual(slackLimits.text);
    expect(JSON.stringify(body.blocks)).toMatch(/…and \d+ more alert\(s\) not shown/);
  });

  it('honours 429 Retry-After for the whole channel, and paces one message per second per channel', async () => {
    // A virtual clock that the waits advance: what was sent when is exact, without sleeping.
    const clock = { now: 1_000_000 };
    const waits: number[] = [];
    const delivery = new Delivery({ clock: () => clock.now, sleep: async (ms) => void (waits.push(ms), (clock.now += ms)) });
    const sentAt = new Map<string, number[]>();
    // Each path is its own channel (pacing is per integration: receiver/slack[i]).
    const timed = (path: string, maxAttempts = 5): SlackIntegration => {
      const integration = webhook(path, maxAttempts, `team${path}/slack[0]`);
      const send = integration.send.bind(integration);
      integration.send = async (n) => (sentAt.set(path, [...(sentAt.get(path) ?? []), clock.now]), send(n));
      return integration;
    };
    const start = clock.now;

    // One message: 429 with Retry-After 3, then accepted 3 s later (no extra pacing wait on top).
    slack.answer('/hooks/limited', { status: 429, headers: { 'retry-after': '3' }, body: 'rate_limited' });
    const limited = timed('/hooks/limited');
    const [outcome] = await delivery.deliver(testNotification([testAlert(cpu)]), [limited]);
    expect(outcome).toMatchObject({ outcome: 'sent', attempts: 2 });
    expect(slack.requests.filter((r) => r.path === '/hooks/limited')).toHaveLength(2);
    expect(sentAt.get('/hooks/limited')).toEqual([start, start + 3000]);
    // The next message on that channel goes 1 s after the last send.
    await delivery.deliver(testNotification([testAlert(cpu)], [], 'g2'), [limited]);
    expect(sentAt.get('/hooks/limited')).toEqual([start, start + 3000, start + 4000]);

    // A 429 on its last attempt still holds the channel: the next message waits Retry-After (5 s), not 1 s;
    // another channel is not held.
    slack.answer('/hooks/busy', { status: 429, headers: { 'retry-after': '5' }, body: 'rate_limited' });
    const busy = timed('/hooks/busy', 1);
    const other = timed('/hooks/other');
    const t = clock.now;
    const [given] = await delivery.deliver(testNotification([testAlert(cpu)], [], 'g3'), [busy]);
    expect(given).toMatchObject({ outcome: 'dead-letter', attempts: 1, reason: 'HTTP 429: rate_limited' });
    await delivery.deliver(testNotification([testAlert(cpu)], [], 'g4'), [other]);
    expect(sentAt.get('/hooks/other')).toEqual([t]);
    await delivery.deliver(testNotification([testAlert(cpu)], [], 'g5'), [busy]);
    expect(sentAt.get('/hooks/busy')).toEqual([t, t + 5000]);
    expect(waits).toEqual([3000, 1000, 5000]);
  });

  it('dead-letters after repeated 500s with exponential backoff, without the URL in the record', async () => {
    const waits: number[] = [];
    const delivery = new Delivery({ redis, keys, sleep: async (ms) => void waits.push(ms), random: () => 0.5, baseDelayMillis: 1000, pacingMillis: 0 });
    slack.answer('/hooks/T1/B1/secret-part', ...Array.from({ length: 4 }, () => ({ status: 500, body: 'oops' })));
    const [outcome] = await delivery.deliver(testNotification([testAlert(cpu)], [], 'g-dead'), [webhook('/hooks/T1/B1/secret-part', 4)]);
    expect(outcome).toMatchObject({ outcome: 'dead-letter', attempts: 4 });
    expect(waits).toEqual([500, 1000, 2000]); // full jitter at 0.5 of 1 s, 2 s, 4 s
    const [record] = await delivery.deadLetters();
    expect(record).toMatchObject({ receiver: 'team', integration: 'team/slack[0]', groupKey: 'g-dead', attempts: 4, reason: 'HTTP 500: oops' });
    expect(JSON.stringify(record)).not.toContain('secret-part');
  });

  it('bot mode: chat.postMessage, then chat.update of the original on resolve (or a thread reply)', async () => {
    let ts = 0;
    slack.fallback = (request) => {
      if (request.path === '/chat.postMessage' || request.path === '/chat.update') {
        ts += 1;
        const body = request.json as { channel: string; ts?: string };
        return { status: 200, body: { ok: true, channel: 'C123', ts: body.ts ?? `1700000000.00000${ts}` } };
      }
      return { status: 200, body: 'ok' };
    };
    const threads = new RedisSlackThreads(redis, keys);
    for (const onResolve of ['update', 'thread'] as const) {
      const bot = new SlackIntegration(`team/slack-${onResolve}`, { botToken: 'xoxb-test-token-123', channel: '#ops', onResolve, apiUrl: slack.url, sendResolved: true }, { links: {}, threads });
      const delivery = new Delivery({ sleep: async () => undefined });
      const firing = testAlert(cpu);
      const start = slack.requests.length;
      await delivery.deliver(testNotification([firing], [], `g-${onResolve}`), [bot]);
      const resolved = { ...firing, status: 'resolved' as const, endsAtMillis: Date.UTC(2026, 0, 5, 12, 30) };
      await delivery.deliver(testNotification([], [resolved], `g-${onResolve}`), [bot]);
      const calls = slack.requests.slice(start);
      expect(calls.map((c) => c.headers.authorization)).toEqual(['Bearer xoxb-test-token-123', 'Bearer xoxb-test-token-123']);
      const [post, after] = calls.map((c) => c.json as Block);
      expect(calls[0]?.path).toBe('/chat.postMessage');
      expect(post?.channel).toBe('#ops');
      if (onResolve === 'update') {
        expect(calls[1]?.path).toBe('/chat.update');
        expect(after).toMatchObject({ channel: 'C123', ts: '1700000000.00000' + String(ts - 1) });
      } else {
        expect(calls[1]?.path).toBe('/chat.postMessage');
        expect(after?.thread_ts).toMatch(/^1700000000\.0+\d+$/);
      }
      expect(after?.text).toBe('[RESOLVED:1] HighCpu');
      expect(JSON.stringify(after?.blocks)).toContain(':white_check_mark:');
    }
  });
});
