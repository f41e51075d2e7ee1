import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { decodeSampleEntry, RedisServer } from '@sloth/core';
import { CollectorProcess, eventually, getJson } from '../helpers/collector-process.js';
import { encodeMetricsRequest, gaugeRequestObject } from '../helpers/otlp-requests.js';

/** Redis going away must neither block nor crash ingestion; samples flow again once it is back. */

const token = 'redis-outage-token';
let dir: string;
let redis: RedisServer;
let collector: CollectorProcess;
const prefix = `outage${process.pid}`;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sloth-redis-outage-'));
  redis = await RedisServer.start({ dir: join(dir, 'redis'), appendOnly: false });
  collector = await CollectorProcess.start({ dataDir: join(dir, 'data'), redisUrl: redis.url, redisPrefix: prefix, tokens: [token] });
});

afterAll(async () => {
  await collector?.stop();
  await redis?.stop();
  rmSync(dir, { recursive: true, force: true });
});

async function send(value: number): Promise<number> {
  const body = encodeMetricsRequest(gaugeRequestObject({ agent: 'outage', name: 'test.outage', points: [{ attributes: { n: String(value) }, value, timeMillis: Date.now() }] }));
  const response = await fetch(`${collector.otlpUrl}/v1/metrics`, { method: 'POST', headers: { 'content-type': 'application/x-protobuf', authorization: `Bearer ${token}` }, body });
  await response.arrayBuffer();
  return response.status;
}

async function streamValues(): Promise<number[]> {
  const client = new Redis(redis.url, { maxRetriesPerRequest: 1 });
  try {
    const rows = (await client.xrange(`${prefix}:samples`, '-', '+')) as Array<[string, string[]]>;
    return rows.flatMap(([, fields]) => decodeSampleEntry(fields)).map((s) => s.value).sort((a, b) => a - b);
  } finally {
    client.disconnect();
  }
}

describe('collector with Redis down', () => {
  it('keeps accepting and storing data, and publishes again when Redis is back', async () => {
    expect(await send(1)).toBe(200);
    await eventually(async () => ((await streamValues()).includes(1) ? true : undefined));

    redis.kill();
    for (let v = 2; v <= 4; v++) expect(await send(v)).toBe(200);
    const stored = await eventually(async () => {
      const body = await getJson<{ points: Array<{ v: number }> }>(`${collector.otlpUrl}/api/v1/latest?agent=outage`, token);
      return body.points.length === 4 ? body.points.map((p) => p.v).sort((a, b) => a - b) : undefined;
    });
    expect(stored).toEqual([1, 2, 3, 4]);
    expect(collector.running).toBe(true);

    await redis.restart(); // same port; AOF off, so the stream starts empty
    expect(await send(5)).toBe(200);
    const values = await eventually(async () => {
      const v = await streamValues();
      return v.includes(5) ? v : undefined;
    }, 15_000);
    // samples buffered during the outage are published after the reconnect
    expect(values).toEqual(expect.arrayContaining([2, 3, 4, 5]));
  });
});
