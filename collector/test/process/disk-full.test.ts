import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisServer } from '@sloth/core';
import { CollectorProcess, eventually, getJson } from '../helpers/collector-process.js';
import { encodeMetricsRequest, gaugeRequestObject } from '../helpers/otlp-requests.js';
import { fillFileSystem } from '../helpers/full-disk.js';

/**
 * A full disk loses nothing acknowledged: the collector's data dir is a real tmpfs of a few megabytes.
 * While it is full, writes get 503 with Retry-After; after space returns writes succeed; after a SIGKILL
 * and restart every point that got a 200 is in the store. Needs root (mount); skipped otherwise.
 */

const dir = mkdtempSync(join(tmpdir(), 'sloth-disk-full-'));
const dataDir = join(dir, 'data');
mkdirSync(dataDir);
const mount = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=24m,mode=0700', 'tmpfs', dataDir], { encoding: 'utf8' });
const mounted = mount.status === 0;
// Unmounted on exit too: hooks do not run when every test of the file is filtered out.
if (mounted) process.once('exit', () => spawnSync('umount', ['-l', dataDir]));
if (!mounted) {
  console.warn(`disk-full test skipped: cannot mount a tmpfs at ${dataDir} (needs root or CAP_SYS_ADMIN): ${(mount.stderr || String(mount.error)).trim()}`);
}

let redis: RedisServer | undefined;
const agent = 'diskfull';
const seriesPerRequest = 10;
const baseMillis = Date.now() - 3_600_000;

beforeAll(async () => {
  if (mounted) redis = await RedisServer.start({ dir: join(dir, 'redis'), appendOnly: false });
});

afterAll(async () => {
  await redis?.stop();
  if (mounted) spawnSync('umount', ['-l', dataDir]);
  rmSync(dir, { recursive: true, force: true });
});

/** Request `n`: one point on each of 10 series, at its own timestamp, with a value naming it. */
function body(n: number): Buffer {
  const points = Array.from({ length: seriesPerRequest }, (_, i) => ({ attributes: { i: String(i), pad: 'x'.repeat(200) }, value: n * 1000 + i, timeMillis: baseMillis + n * 1000 }));
  return encodeMetricsRequest(gaugeRequestObject({ agent, name: 'test.disk_full', points }));
}

async function send(collector: CollectorProcess, n: number): Promise<{ status: number; retryAfter: string | null }> {
  const response = await fetch(`${collector.otlpUrl}/v1/metrics`, { method: 'POST', headers: { 'content-type': 'application/x-protobuf' }, body: body(n) });
  await response.arrayBuffer();
  return { status: response.status, retryAfter: response.headers.get('retry-after') };
}

describe('collector on a full disk (real tmpfs)', () => {
  it.skipIf(!mounted)('answers 503 + Retry-After while full, recovers, and keeps every acknowledged point across SIGKILL', async () => {
    const start = async (): Promise<CollectorProcess> =>
      await CollectorProcess.start({ dataDir, redisUrl: redis!.url, redisPrefix: `df${process.pid}`, extraArgs: ['--log-level', 'error'] });
    const acked = new Set<number>();
    let n = 0;
    const first = await start();
    try {
      for (let i = 0; i < 20; i++, n++) if ((await send(first, n)).status === 200) acked.add(n);
      expect(acked.size).toBe(20);

      const filler = join(dataDir, 'filler');
      fillFileSystem(filler);
      const whileFull: Array<{ status: number; retryAfter: string | null }> = [];
      for (let i = 0; i < 60; i++, n++) {
        const answer = await send(first, n);
        whileFull.push(answer);
        if (answer.status === 200) acked.add(n);
      }
      // Slack in the segment's last page may take a few small entries; the rest must be refused, retryably.
      const refused = whileFull.filter((a) => a.status === 503);
      expect(refused.length).toBeGreaterThan(30);
      for (const a of refused) expect(Number(a.retryAfter)).toBeGreaterThan(0);
      expect(whileFull.every((a) => a.status === 200 || a.status === 503)).toBe(true);
      expect(first.running).toBe(true);

      unlinkSync(filler);
      const afterSpace: number[] = [];
      for (let i = 0; i < 40; i++, n++) {
        const answer = await send(first, n);
        afterSpace.push(answer.status);
        if (answer.status === 200) acked.add(n);
      }
      expect(afterSpace.every((s) => s === 200)).toBe(true);
    } finally {
      await first.stop('SIGKILL');
    }

    const second = await start();
    try {
      const series = await getJson<{ series: Array<{ key: string; labels: Record<string, string> }> }>(`${second.otlpUrl}/api/v1/series?agent=${agent}`);
      expect(series.series).toHaveLength(seriesPerRequest);
      const stored = await eventually(async () => {
        const seen = new Map<number, number>();
        for (const s of series.series) {
          const q = new URLSearchParams({ series: s.key, from: String(baseMillis - 1), to: String(baseMillis + (n + 1) * 1000) });
          const answer = await getJson<{ points: Array<{ t: number; v: number }> }>(`${second.otlpUrl}/api/v1/samples?${q.toString()}`);
          for (const p of answer.points) {
            const request = Math.round((p.t - baseMillis) / 1000);
            expect(p.v).toBe(request * 1000 + Number(s.labels.i));
            seen.set(request, (seen.get(request) ?? 0) + 1);
          }
        }
        return [...acked].every((id) => seen.get(id) === seriesPerRequest) ? seen : undefined;
      }, 30_000);
      for (const id of acked) expect(stored.get(id)).toBe(seriesPerRequest);
    } finally {
      await second.stop();
    }
  });
});
