import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { createLogger } from '@sloth/core';
import { decodeAndNormalise, IngestPipeline } from '../src/ingest-pipeline.js';
import { SeriesCache } from '../src/series-cache.js';
import { StoreWriter } from '../src/store/store-writer.js';
import { WriteAheadLog } from '../src/wal.js';
import { eventually } from './helpers/collector-process.js';
import { encodeMetricsRequest, gaugeRequestObject } from './helpers/otlp-requests.js';
import { fillFileSystem } from './helpers/full-disk.js';

/**
 * The head full while its commit fails (brief E part 1a, the 503 side of the design): the store's
 * SQLite file is on a real tmpfs filled to the last byte, the head holds at most 2,000 points, and
 * the ingest pipeline keeps receiving. Once the head is full, hand-overs are refused and the
 * pipeline's queue fills until it reports saturation (the collector then answers 503 with
 * Retry-After); the failure is logged once, not once per retry; when space returns the head
 * commits, the queue drains, and every acknowledged point is stored exactly once.
 * Needs root (mount); skipped otherwise.
 */

const dir = mkdtempSync(join(tmpdir(), 'sloth-head-faults-full-'));
const dataDir = join(dir, 'data');
const storeDir = join(dataDir, 'collector');
mkdirSync(storeDir, { recursive: true });
const mount = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=8m,mode=0700', 'tmpfs', storeDir], { encoding: 'utf8' });
const mounted = mount.status === 0;
if (mounted) process.once('exit', () => spawnSync('umount', ['-l', storeDir]));
else console.warn(`store-head-faults-full skipped: cannot mount a tmpfs (needs root): ${(mount.stderr || String(mount.error)).trim()}`);

afterAll(() => {
  if (mounted) spawnSync('umount', ['-l', storeDir]);
  rmSync(dir, { recursive: true, force: true });
});

const baseMillis = Date.now() - 3_600_000;
const seriesPerRequest = 100;

describe('store head full while its commit fails (SQLite on a full tmpfs)', () => {
  it.skipIf(!mounted)('refuses hand-overs, saturates the queue (503), logs once, and stores everything exactly once when space returns', async () => {
    const logFile = join(dir, 'log.jsonl');
    const logger = createLogger({ level: 'warn', destination: logFile });
    const writer = await StoreWriter.open({ dataDir, retentionMillis: 7 * 86_400_000, pruneIntervalMillis: 0, headMaxPoints: 2_000, headMaxMillis: 600_000, logger });
    const wal = new WriteAheadLog({ dir: join(dir, 'wal'), segmentBytes: 1 << 20, logger });
    const cache = new SeriesCache();
    const pipeline = new IngestPipeline({
      wal,
      store: writer,
      sinks: { latest: () => undefined, resources: () => undefined, publish: () => undefined, stored: () => undefined },
      series: { cache, admit: () => true },
      logger,
      maxQueuedPoints: 5_000,
      maxDecompressedBytes: 1 << 20,
      applyDelayMillis: 5,
    });
    await pipeline.recover();
    let n = 0;
    const ingest = async (): Promise<void> => {
      const points = Array.from({ length: seriesPerRequest }, (_, i) => ({ attributes: { i: String(i) }, value: n * 1000 + i, timeMillis: baseMillis + n * 1000 }));
      const body = encodeMetricsRequest(gaugeRequestObject({ agent: 'full', name: 'test.head_full', points }));
      const receivedAtMillis = Date.now();
      const result = decodeAndNormalise('metrics', 'protobuf', body, 'test', { cache, admit: () => true }, receivedAtMillis);
      n += 1;
      await pipeline.ingest({ signal: 'metrics', format: 'protobuf', encoding: 'identity', principal: 'test', receivedAtMillis, body }, result);
    };
    const filler = join(storeDir, 'filler');
    try {
      for (let i = 0; i < 10; i++) await ingest();
      await pipeline.caughtUp(10_000);
      expect(writer.lastCheckpoint()).toBe(10);

      // SQLite's own -wal emptied, so the next commit must grow it on the full disk.
      const db = new Database(join(storeDir, 'sloth.db'), { fileMustExist: true });
      db.pragma('wal_checkpoint(TRUNCATE)');
      db.close();
      fillFileSystem(filler);

      // Until the pipeline says it is saturated (the collector's 503): head full, hand-overs refused.
      while (!pipeline.saturated() && n < 200) await ingest();
      expect(pipeline.saturated()).toBe(true);
      expect(pipeline.queueDepth).toBeGreaterThanOrEqual(5_000);
      // Several retries of the refused hand-over (one a second).
      await new Promise((r) => setTimeout(r, 4_000));
      expect(writer.lastCheckpoint()).toBe(10);
      logger.flush();
      await new Promise((r) => setTimeout(r, 200));
      const failingLog = existsSync(logFile) ? readFileSync(logFile, 'utf8') : '';
      const lines = (pattern: RegExp): number => failingLog.split('\n').filter((l) => pattern.test(l)).length;
      expect(lines(/store commit failed/)).toBe(1);
      expect(lines(/database or disk is full/)).toBeGreaterThanOrEqual(1);
      // One line for the spell, not one per retry.
      expect(lines(/store write failed; retr/)).toBeLessThanOrEqual(1);

      unlinkSync(filler);
      const last = n;
      await eventually(async () => (pipeline.queueDepth === 0 ? true : undefined), 15_000);
      await pipeline.caughtUp(10_000);
      expect(writer.lastCheckpoint()).toBe(last);
      expect(pipeline.saturated()).toBe(false);
      const counts = new Map<number, number>();
      for (let i = 0; i < seriesPerRequest; i++) {
        const points = writer.reader.samples({ seriesKey: `test.head_full{agent="full",i="${i}"}`, fromMillis: baseMillis - 1, toMillis: baseMillis + last * 1000 }) ?? [];
        for (const p of points) {
          const request = Math.round((p.t - baseMillis) / 1000);
          expect(p.v).toBe(request * 1000 + i);
          counts.set(request, (counts.get(request) ?? 0) + 1);
        }
      }
      expect(counts.size).toBe(last);
      for (const count of counts.values()) expect(count).toBe(seriesPerRequest);
      const check = new Database(join(storeDir, 'sloth.db'), { readonly: true, fileMustExist: true });
      expect(check.prepare('SELECT sum(count) FROM chunks').pluck().get()).toBe(last * seriesPerRequest);
      check.close();
    } finally {
      if (existsSync(filler)) unlinkSync(filler);
      await pipeline.shutdown();
      await writer.close();
    }
  });
});
