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

  const webhook = (path: string, maxAttempts = 5): SlackIntegration =>
    new SlackIntegration('team/slack[0]', { webhookUrl: `${slack.url}${path}`, onResolve: 'update', apiUrl: slack.url, sendResolved: true, maxAttempts }, {
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

  it('stays inside 50 blocks and 3000 characters per text', async () => {
    const delivery = new Delivery({ sleep: async () => undefined });
    const alerts = Array.from({ length: 60 }, (_, i) => testAlert({ ...cpu, agent: `web-${i}` }, { annotations: { description: 'x'.repeat(5000) } }));
    await delivery.deliver(testNotification(alerts), [webhook('/hooks/many')]);
    const body = slack.requests.find((r) => r.path === '/hooks/many')?.json as { blocks: Block[] };
    expect(body.blocks.length).toBeLessThanOrEqual(slackLimits.blocks);
    for (const block of body.blocks) if (block.text?.text !== undefined) expect((block.text.text as string).length).toBeLessThanOrEqual(slackLimits.text);
    expect(JSON.stringify(body.blocks)).toMatch(/…and \d+ more alert\(s\) not shown/);
  });

  it('honours 429 Retry-After, and paces one message per second per channel', async () => {
    const waits: number[] = [];
    const delivery = new Delivery({ sleep: async (ms) => void waits.push(ms), clock: () => 1_000_000 });
    slack.answer('/hooks/limited', { status: 429, headers: { 'retry-after': '3' }, body: 'rate_limited' });
    const [outcome] = await delivery.deliver(testNotification([testAlert(cpu)]), [webhook('/hooks/limited')]);
    expect(outcome).toMatchObject({ outcome: 'sent', attempts: 2 });
    expect(slack.requests.filter((r) => r.path === '/hooks/limited')).toHaveLength(2);
    // The first send waits for nobody; the retry waits Retry-After, then the channel's 1 s pace.
    expect(waits).toContain(3000);
    expect(waits.filter((w) => w === 1000)).toHaveLength(1);
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
