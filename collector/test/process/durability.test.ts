import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisServer } from '@sloth/core';
import { CollectorProcess, eventually, getJson } from '../helpers/collector-process.js';
import { encodeMetricsRequest, gaugeRequestObject } from '../helpers/otlp-requests.js';

/**
 * Durability: every request answered 200 survives a SIGKILL of the collector
 * process (the write-ahead log is replayed on the next start), and SIGTERM
 * drains everything into the store.
 */

const token = 'durability-token';
let dir: string;
let redis: RedisServer;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sloth-durability-'));
  redis = await RedisServer.start({ dir: join(dir, 'redis'), appendOnly: false });
});

afterAll(async () => {
  await redis?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const pointsPerRequest = 50;

function requestBody(agent: string, request: number, baseMillis: number): Buffer {
  const points = Array.from({ length: pointsPerRequest }, (_, i) => ({ attributes: { req: String(request), i: String(i) }, value: request * 1000 + i, timeMillis: baseMillis + request }));
  return encodeMetricsRequest(gaugeRequestObject({ agent, name: 'test.durable', points }));
}

async function start(dataDir: string): Promise<CollectorProcess> {
  return await CollectorProcess.start({ dataDir, redisUrl: redis.url, redisPrefix: `dur${process.pid}`, tokens: [token] });
}

/**
 * Sends requests with 16 in flight until 4 × `stopAfter` are acknowledged, the process is gone, or 20 ×
 * `stopAfter` were tried; returns the acknowledged ids. A 503 (the latency budget shedding load on a busy
 * machine) is retried shortly, as an agent would retry it.
 */
async function sendUntil(collector: CollectorProcess, agent: string, stopAfter: number, onAcked: (acked: number) => void): Promise<Set<number>> {
  const acked = new Set<number>();
  const baseMillis = Date.now();
  let next = 0;
  let failed = false;
  const worker = async (): Promise<void> => {
    while (!failed && acked.size < stopAfter * 4 && next < stopAfter * 20) {
      const id = next++;
      try {
        const response = await fetch(`${collector.otlpUrl}/v1/metrics`, {
          method: 'POST',
          headers: { 'content-type': 'application/x-protobuf', authorization: `Bearer ${token}` },
          body: requestBody(agent, id, baseMillis),
        });
        await response.arrayBuffer();
        if (response.status === 200) {
          acked.add(id);
          onAcked(acked.size);
        } else if (response.status === 503) {
          await new Promise((r) => setTimeout(r, 20));
        }
      } catch {
        failed = true; // the process is gone
      }
    }
  };
  await Promise.all(Array.from({ length: 16 }, () => worker()));
  return acked;
}

async function storedRequests(collector: CollectorProcess, agent: string): Promise<Map<number, number>> {
  const body = await getJson<{ points: Array<{ labels: Record<string, string>; v: number }> }>(`${collector.otlpUrl}/api/v1/latest?agent=${agent}`, token);
  const perRequest = new Map<number, number>();
  for (const p of body.points) {
    const req = Number(p.labels.req);
    expect(p.v).toBe(req * 1000 + Number(p.labels.i));
    perRequest.set(req, (perRequest.get(req) ?? 0) + 1);
  }
  return perRequest;
}

describe('collector durability', () => {
  it('keeps every acknowledged point across SIGKILL', async () => {
    const dataDir = join(dir, 'kill');
    const first = await start(dataDir);
    let killed = false;
    const acked = await sendUntil(first, 'killed', 150, (n) => {
      if (n >= 150 && !killed) {
        killed = true;
        first.child.kill('SIGKILL');
      }
    });
    await first.stop('SIGKILL');
    expect(acked.size).toBeGreaterThanOrEqual(150);
    expect(readdirSync(join(dataDir, 'collector', 'wal')).length).toBeGreaterThan(0);

    const second = await start(dataDir);
    try {
      const stored = await eventually(async () => {
        const perRequest = await storedRequests(second, 'killed');
        return [...acked].every((id) => perRequest.get(id) === pointsPerRequest) ? perRequest : undefined;
      }, 20_000);
      for (const id of acked) expect(stored.get(id)).toBe(pointsPerRequest);
      // nothing half-applied: every stored request is complete
      for (const count of stored.values()) expect(count).toBe(pointsPerRequest);
    } finally {
      await second.stop();
    }
  });

  it('drains everything into the store on SIGTERM', async () => {
    const dataDir = join(dir, 'term');
    const first = await start(dataDir);
    const acked = await sendUntil(first, 'termed', 60, () => undefined);
    expect(await first.stop('SIGTERM')).toBe(0);
    expect(first.stdout).toContain('sloth collector: stopped');

    const second = await start(dataDir);
    try {
      const stored = await storedRequests(second, 'termed');
      expect(stored.size).toBe(acked.size);
      for (const id of acked) expect(stored.get(id)).toBe(pointsPerRequest);
    } finally {
      await second.stop();
    }
  });
});
