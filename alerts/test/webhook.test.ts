import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Delivery, signatureHeaders, verifySignature, WebhookIntegration } from '../src/index.js';
import { StandIn, testAlert, testNotification } from './stand-ins.js';

const oldSecret = `whsec_${Buffer.from('old-secret-0123456789abcdef').toString('base64')}`;
const newSecret = `whsec_${Buffer.from('new-secret-fedcba9876543210').toString('base64')}`;

describe('signed webhook', () => {
  const receiver = new StandIn();
  beforeAll(() => receiver.start());
  afterAll(() => receiver.stop());

  it('signs id.timestamp.body with both secrets during a rotation; a receiver with either secret verifies it', async () => {
    const nowMillis = Date.UTC(2026, 0, 5, 12);
    const hook = new WebhookIntegration('ops/webhook[0]', { url: `${receiver.url}/hook`, secrets: [newSecret, oldSecret], sendResolved: true }, { externalUrl: 'http://alerts:8081', clock: () => nowMillis });
    const [outcome] = await new Delivery({ sleep: async () => undefined }).deliver(testNotification([testAlert({ alertname: 'DiskWillFill', agent: 'db-1' }, { value: 0.91 })]), [hook]);
    expect(outcome?.outcome).toBe('sent');
    const request = receiver.requests.at(-1);
    const headers = request?.headers as Record<string, string>;
    expect(headers['webhook-id']).toMatch(/^msg_/);
    expect(headers['webhook-timestamp']).toBe(String(nowMillis / 1000));
    expect(headers['webhook-signature']?.split(' ')).toHaveLength(2);
    const body = request?.body ?? '';
    expect(JSON.parse(body)).toMatchObject({ version: '4', status: 'firing', receiver: 'team', alerts: [{ status: 'firing', labels: { alertname: 'DiskWillFill', agent: 'db-1' }, value: 0.91 }] });

    expect(verifySignature([newSecret], headers, body, nowMillis)).toEqual({ ok: true });
    expect(verifySignature([oldSecret], headers, body, nowMillis)).toEqual({ ok: true });
    const other = `whsec_${Buffer.from('someone-else-entirely').toString('base64')}`;
    expect(verifySignature([other], headers, body, nowMillis)).toEqual({ ok: false, reason: 'no signature matches any secret' });
    expect(verifySignature([newSecret], headers, body.replace('db-1', 'db-2'), nowMillis).ok).toBe(false);
    expect(verifySignature([newSecret], headers, body, nowMillis + 600_000)).toMatchObject({ ok: false });
  });

  it('matches the test vector published with the Standard Webhooks specification', () => {
    // Any Standard Webhooks library verifies what Sloth signs only if this holds; the vector is the specification's, not ours.
    const vector = { secret: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw', id: 'msg_p5jXN8AQM9LWM0D4loKWxJek', timestampMillis: 1_614_265_330_000, body: '{"test": 2432232314}' };
    const headers = signatureHeaders([vector.secret], vector.body, vector.timestampMillis, vector.id);
    expect(headers).toEqual({ 'webhook-id': vector.id, 'webhook-timestamp': '1614265330', 'webhook-signature': 'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=' });
    expect(verifySignature([vector.secret], headers, vector.body, vector.timestampMillis)).toEqual({ ok: true });
  });

  it('after the rotation only the new secret signs, and the old one no longer verifies', () => {
    const body = '{"x":1}';
    const headers = signatureHeaders([newSecret], body, 1_767_614_400_000, 'msg_1');
    expect(headers['webhook-signature']?.startsWith('v1,')).toBe(true);
    expect(verifySignature([newSecret], headers, body, 1_767_614_400_000).ok).toBe(true);
    expect(verifySignature([oldSecret], headers, body, 1_767_614_400_000).ok).toBe(false);
  });

  it('gives every notification its own webhook-id, and every retry of one the same', async () => {
    // Flushed in the same tick, these two groups differ only early in their keys.
    const web2 = testNotification([testAlert({ alertname: 'HighCpu', agent: 'web-2' })], [], '0:[["agent","web-2"],["alertname","HighCpu"]]');
    const web3 = testNotification([testAlert({ alertname: 'HighCpu', agent: 'web-3' })], [], '0:[["agent","web-3"],["alertname","HighCpu"]]');
    receiver.answer('/ids', { status: 500, body: 'try again' });
    const hook = new WebhookIntegration('ops/webhook[0]', { url: `${receiver.url}/ids`, secrets: [newSecret], sendResolved: true }, { externalUrl: 'x' });
    const delivery = new Delivery({ sleep: async () => undefined });
    expect((await delivery.deliver(web2, [hook]))[0]).toMatchObject({ outcome: 'sent', attempts: 2 });
    await delivery.deliver(web3, [hook]);
    const ids = receiver.requests.filter((r) => r.path === '/ids').map((r) => r.headers['webhook-id']);
    expect(ids).toHaveLength(3);
    expect(ids[0]).toBe(ids[1]);
    expect(ids[2]).not.toBe(ids[0]);
  });

  it('a 4xx is a permanent failure (no retries)', async () => {
    receiver.answer('/gone', { status: 410, body: 'gone' });
    const hook = new WebhookIntegration('ops/webhook[0]', { url: `${receiver.url}/gone`, secrets: [newSecret], sendResolved: true }, { externalUrl: 'x' });
    const [outcome] = await new Delivery({ sleep: async () => undefined }).deliver(testNotification([testAlert({ alertname: 'A' })]), [hook]);
    expect(outcome).toMatchObject({ outcome: 'dead-letter', attempts: 1, reason: 'HTTP 410: gone' });
  });
});
