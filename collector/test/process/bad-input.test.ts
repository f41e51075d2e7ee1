import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync, createGzip } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisServer } from '@sloth/core';
import { CollectorProcess, eventually, getJson, postRetrying } from '../helpers/collector-process.js';
import { decodeMetricsResponse, encodeMetricsRequest, gaugeRequestObject } from '../helpers/otlp-requests.js';

/**
 * Bad input against a real collector process: each gets the right status,
 * the process stays up, and valid data sent afterwards is stored.
 */

const token = 'bad-input-token-1';
let dir: string;
let redis: RedisServer;
let collector: CollectorProcess;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sloth-bad-input-'));
  redis = await RedisServer.start({ dir: join(dir, 'redis'), appendOnly: false });
  collector = await CollectorProcess.start({ dataDir: join(dir, 'data'), redisUrl: redis.url, redisPrefix: `bad${process.pid}`, tokens: ['unrelated-token-0:nobody'], extraArgs: ['--admin-token', `${token}:tests`] }); // admin: it writes as many agent ids
});

afterAll(async () => {
  await collector?.stop();
  await redis?.stop();
  rmSync(dir, { recursive: true, force: true });
});

async function post(path: string, body: Uint8Array | string, headers: Record<string, string>): Promise<Response> {
  // A load-shedding 503 (Retry-After) is the right answer under load: retried, bounded; any other answer is asserted.
  return await postRetrying(`${collector.otlpUrl}${path}`, { headers: { authorization: `Bearer ${token}`, ...headers }, body });
}

const protobuf = { 'content-type': 'application/x-protobuf' };
const now = Date.now();
const valid = (agent: string, value = 1): Buffer =>
  encodeMetricsRequest(gaugeRequestObject({ agent, name: 'test.value', points: [{ attributes: { k: 'v' }, value, timeMillis: now } ] }));

/** Deterministic pseudo-random bytes. */
function noise(length: number, seed: number): Buffer {
  const out = Buffer.alloc(length);
  let x = seed;
  for (let i = 0; i < length; i++) {
    x = (x * 1103515245 + 12345) & 0x7fffffff;
    out[i] = x >> 16;
  }
  return out;
}

async function gzipZeros(bytes: number): Promise<Buffer> {
  const gzip = createGzip({ level: 9 });
  const chunks: Buffer[] = [];
  gzip.on('data', (c: Buffer) => chunks.push(c));
  const done = new Promise((r) => gzip.on('end', r));
  const block = Buffer.alloc(1024 * 1024);
  for (let i = 0; i < bytes / block.length; i++) gzip.write(block);
  gzip.end();
  await done;
  return Buffer.concat(chunks);
}

describe('collector process under bad input', () => {
  it('answers 400 to truncated protobuf, with a google.rpc.Status message', async () => {
    const body = valid('truncated');
    const response = await post('/v1/metrics', body.subarray(0, body.length - 7), protobuf);
    expect(response.status).toBe(400);
    const status = Buffer.from(await response.arrayBuffer());
    // field 2 (message) of google.rpc.Status holds the reason
    expect(status.toString('latin1')).toContain('malformed OTLP protobuf metrics request');
  });

  it('answers 400 to random bytes', async () => {
    const response = await post('/v1/metrics', noise(4096, 42), protobuf);
    expect(response.status).toBe(400);
  });

  it('answers 400 to malformed and mis-shaped JSON', async () => {
    const broken = await post('/v1/traces', '{"resourceSpans": [', { 'content-type': 'application/json' });
    expect(broken.status).toBe(400);
    expect(await broken.json()).toMatchObject({ code: 3, message: expect.stringContaining('malformed OTLP JSON traces request') });
    const misShaped = await post('/v1/logs', '{"resourceLogs": "nope"}', { 'content-type': 'application/json' });
    expect(misShaped.status).toBe(400);
  });

  it('answers 415 to a wrong content type or encoding', async () => {
    expect((await post('/v1/metrics', 'hello', { 'content-type': 'text/plain' })).status).toBe(415);
    expect((await post('/v1/metrics', valid('br'), { ...protobuf, 'content-encoding': 'br' })).status).toBe(415);
  });

  it('answers 413 to a gzip bomb without inflating it', async () => {
    const bomb = await gzipZeros(256 * 1024 * 1024);
    expect(bomb.length).toBeLessThan(1024 * 1024);
    const response = await post('/v1/metrics', bomb, { ...protobuf, 'content-encoding': 'gzip' });
    expect(response.status).toBe(413);
  });

  it('answers 413 to an oversized body', async () => {
    const response = await post('/v1/metrics', noise(5 * 1024 * 1024, 7), protobuf);
    expect(response.status).toBe(413);
  });

  it('rejects series past the per-agent limit through partial_success', async () => {
    const points = Array.from({ length: 100_000 }, (_, i) => ({ attributes: { id: String(i) }, value: i, timeMillis: now }));
    const body = gzipSync(encodeMetricsRequest(gaugeRequestObject({ agent: 'cardinality', name: 'test.many', points })));
    const response = await post('/v1/metrics', body, { ...protobuf, 'content-encoding': 'gzip' });
    expect(response.status).toBe(200);
    const decoded = decodeMetricsResponse(new Uint8Array(await response.arrayBuffer()));
    expect(Number(decoded.partialSuccess?.rejectedDataPoints)).toBe(50_000);
    expect(decoded.partialSuccess?.errorMessage).toContain('cardinality');
    // existing series keep flowing: a second request for known and new series
    const again = gzipSync(encodeMetricsRequest(gaugeRequestObject({ agent: 'cardinality', name: 'test.many', points: [
      { attributes: { id: '0' }, value: -1, timeMillis: now + 1000 },
      { attributes: { id: '99999' }, value: -2, timeMillis: now + 1000 },
    ] })));
    const second = await post('/v1/metrics', again, { ...protobuf, 'content-encoding': 'gzip' });
    expect(second.status).toBe(200);
    expect(Number(decodeMetricsResponse(new Uint8Array(await second.arrayBuffer())).partialSuccess?.rejectedDataPoints)).toBe(1);
    const latest = await eventually(async () => {
      const body = await getJson<{ points: Array<{ labels: Record<string, string>; v: number }> }>(`${collector.otlpUrl}/api/v1/latest?agent=cardinality`, token);
      const zero = body.points.find((p) => p.labels.id === '0');
      return zero?.v === -1 ? body.points : undefined;
    }, 20_000);
    expect(latest.length).toBe(50_000);
    expect(latest.some((p) => p.labels.id === '99999')).toBe(false);
  });

  it('answers 401 to a missing or wrong token and stores nothing', async () => {
    const missing = await fetch(`${collector.otlpUrl}/v1/metrics`, { method: 'POST', headers: protobuf, body: valid('intruder') });
    expect(missing.status).toBe(401);
    const wrong = await fetch(`${collector.otlpUrl}/v1/metrics`, { method: 'POST', headers: { ...protobuf, authorization: 'Bearer not-the-token' }, body: valid('intruder') });
    expect(wrong.status).toBe(401);
    const agents = await getJson<{ agents: Array<{ id: string }> }>(`${collector.otlpUrl}/api/v1/agents`, token);
    expect(agents.agents.map((a) => a.id)).not.toContain('intruder');
  });

  it('stays up and stores valid data sent afterwards', async () => {
    expect(collector.running).toBe(true);
    const response = await post('/v1/metrics', valid('after-bad-input', 42), protobuf);
    expect(response.status).toBe(200);
    const points = await eventually(async () => {
      const body = await getJson<{ points: Array<{ name: string; v: number }> }>(`${collector.otlpUrl}/api/v1/latest?agent=after-bad-input`, token);
      return body.points.length > 0 ? body.points : undefined;
    });
    expect(points).toEqual([expect.objectContaining({ name: 'test.value', v: 42 })]);
    const exposition = await (await fetch(collector.metricsUrl)).text();
    expect(exposition).toContain('sloth_collector_points_rejected_total{reason="cardinality"} 50001');
  });
});
