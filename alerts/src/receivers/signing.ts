import { createHmac, randomUUID, timingSafeEqual } from 'node:crypto';

/**
 * Standard Webhooks signatures: `webhook-signature: v1,<base64 HMAC-SHA256
 * of "<id>.<timestamp>.<body>">`, one entry per secret (space separated) so
 * receivers accept either secret during a rotation. Secrets are
 * `whsec_<base64>` (the key is the decoded bytes) or plain text.
 */
export function secretKey(secret: string): Buffer {
  return secret.startsWith('whsec_') ? Buffer.from(secret.slice(6), 'base64') : Buffer.from(secret, 'utf8');
}

export function sign(secret: string, id: string, timestampSeconds: number, body: string): string {
  return createHmac('sha256', secretKey(secret)).update(`${id}.${timestampSeconds}.${body}`).digest('base64');
}

/** Headers for one delivery: a fresh id, the current time and a signature per secret. */
export function signatureHeaders(secrets: readonly string[], body: string, nowMillis = Date.now(), id = `msg_${randomUUID()}`): Record<string, string> {
  const timestamp = Math.floor(nowMillis / 1000);
  return {
    'webhook-id': id,
    'webhook-timestamp': String(timestamp),
    'webhook-signature': secrets.map((s) => `v1,${sign(s, id, timestamp, body)}`).join(' '),
  };
}

export type VerifyResult = { ok: true } | { ok: false; reason: string };

/**
 * Verifies a delivery the way a receiver must: the timestamp within
 * `toleranceSeconds` (replays), and some `v1` signature matching some secret.
 */
export function verifySignature(secrets: readonly string[], headers: Readonly<Record<string, string | undefined>>, body: string, nowMillis = Date.now(), toleranceSeconds = 300): VerifyResult {
  const id = headers['webhook-id'];
  const timestamp = headers['webhook-timestamp'];
  const signatures = headers['webhook-signature'];
  if (id === undefined || timestamp === undefined || signatures === undefined) return { ok: false, reason: 'missing webhook-id, webhook-timestamp or webhook-signature header' };
  const seconds = Number(timestamp);
  if (!Number.isInteger(seconds) || Math.abs(nowMillis / 1000 - seconds) > toleranceSeconds) return { ok: false, reason: `timestamp ${timestamp} is not within ${toleranceSeconds} s of now` };
  const offered = signatures.split(' ').filter((s) => s.startsWith('v1,')).map((s) => Buffer.from(s.slice(3), 'base64'));
  for (const secret of secrets) {
    const expected = Buffer.from(sign(secret, id, seconds, body), 'base64');
    if (offered.some((o) => o.length === expected.length && timingSafeEqual(o, expected))) return { ok: true };
  }
  return { ok: false, reason: 'no signature matches any secret' };
}
