/**
 * What one write-ahead log group commit costs on a file system, measured without the collector:
 *
 * - `append`: the segment is opened with 'a' (as `collector/src/wal.ts` did), every group is a write at the
 *   end of the file then fdatasync, which must also journal the file's new size (ext4);
 * - `overwrite`: the segment was first filled with real zeroes and fdatasync'ed (off the timed path), every
 *   group overwrites the next bytes in place then fdatasync, which only has data to flush.
 *
 * Both roll over to a new segment at `--segment-mb` as the log does (append: a new file; overwrite: a
 * prepared file renamed into place, then the directory fsync'ed), and that cost is in the timed group.
 * Groups are one bench request's log entry (`bench/ingest/run.ts` default: 1,000 points, about one entry per
 * group at 75,000 points/s), offered every `--interval-ms` (1000 / 75 = 13.3 ms: 75 requests per second).
 * With `--contention-mb M` (default 16) a second thread plays the store head's commit: every
 * `--contention-every-ms` it appends M MiB to another file in the same directory and fsyncs it.
 * Rounds alternate append / overwrite, so each pair ran on the same load; every round is printed.
 *
 *   nice -n 10 npx tsx bench/ingest/wal-sync.ts --dir /work --dir /tmp [--pairs 2] [--groups 1000]
 */
import { closeSync, fdatasyncSync, fsyncSync, mkdtempSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Worker } from 'node:worker_threads';
import { percentile } from './proc.js';
import { buildTemplate } from './requests.js';

const { values: args } = parseArgs({
  options: {
    dir: { type: 'string', multiple: true, default: ['/work', '/tmp'] },
    pairs: { type: 'string', default: '2' },
    groups: { type: 'string', default: '1000' },
    'interval-ms': { type: 'string', default: String(1000 / 75) },
    'segment-mb': { type: 'string', default: '64' },
    /** Bytes per group; default: one bench request's entry (body + 16-byte log header + ~30 bytes of entry header). */
    bytes: { type: 'string', default: '' },
    'contention-mb': { type: 'string', default: '16' },
    'contention-every-ms': { type: 'string', default: '5000' },
  },
});

const pairs = positiveInt('pairs', args.pairs);
const groups = positiveInt('groups', args.groups);
const intervalMillis = Number(args['interval-ms']);
if (!(intervalMillis >= 0)) throw new Error(`--interval-ms ${JSON.stringify(args['interval-ms'])} is not a number >= 0`);
const segmentBytes = positiveInt('segment-mb', args['segment-mb']) * 1048576;
const groupBytes = args.bytes === '' ? buildTemplate(0, 1000).body.length + 16 + 30 : positiveInt('bytes', args.bytes);
const contentionBytes = Number(args['contention-mb']) * 1048576;
const contentionEveryMillis = positiveInt('contention-every-ms', args['contention-every-ms']);

function positiveInt(name: string, value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) throw new Error(`--${name} ${JSON.stringify(value)} is not a positive integer`);
  return n;
}

type Mode = 'append' | 'overwrite';
const zeroChunk = Buffer.alloc(1 << 20);

/** A file of `bytes` real zeroes, fdatasync'ed: what the log prepares in the background. */
function prepare(path: string, bytes: number): void {
  const fd = openSync(path, 'w');
  try {
    for (let written = 0; written < bytes; ) written += writeSync(fd, zeroChunk, 0, Math.min(zeroChunk.length, bytes - written), written);
    fdatasyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

function fsyncDir(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

function sleep(millis: number): void {
  if (millis > 0) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, millis);
}

/** One round: `groups` group commits in `mode`; returns write+fdatasync and fdatasync-only times in ms. */
function round(dir: string, mode: Mode): { total: number[]; sync: number[]; rollovers: number } {
  const payload = Buffer.alloc(groupBytes, 0x5a);
  const segmentsNeeded = Math.ceil((groups * groupBytes) / segmentBytes) + 1;
  const prepared: string[] = [];
  if (mode === 'overwrite') {
    for (let i = 0; i < segmentsNeeded; i++) {
      const path = join(dir, `prepared-${i}`);
      prepare(path, segmentBytes);
      prepared.push(path);
    }
  }
  let segment = 0;
  const open = (): number => {
    const path = join(dir, `${String(segment).padStart(20, '0')}.wal`);
    if (mode === 'append') return openSync(path, 'a');
    renameSync(prepared[segment] as string, path);
    fsyncDir(dir);
    return openSync(path, 'r+');
  };
  let fd = open();
  let position = 0;
  let rollovers = 0;
  const total: number[] = [];
  const sync: number[] = [];
  const started = performance.now();
  for (let g = 0; g < groups; g++) {
    sleep(started + g * intervalMillis - performance.now());
    const t0 = performance.now();
    if (position >= segmentBytes) {
      closeSync(fd);
      segment++;
      rollovers++;
      fd = open();
      position = 0;
    }
    let written = 0;
    while (written < groupBytes) written += writeSync(fd, payload, written, groupBytes - written, mode === 'append' ? null : position + written);
    position += groupBytes;
    const t1 = performance.now();
    fdatasyncSync(fd);
    const t2 = performance.now();
    total.push(t2 - t0);
    sync.push(t2 - t1);
  }
  closeSync(fd);
  return { total, sync, rollovers };
}

function summary(values: number[]): { p50: number; p90: number; p99: number; max: number; mean: number } {
  const sorted = [...values].sort((a, b) => a - b);
  const r = (x: number): number => Number(x.toFixed(2));
  return { p50: r(percentile(sorted, 50)), p90: r(percentile(sorted, 90)), p99: r(percentile(sorted, 99)), max: r(sorted[sorted.length - 1] ?? Number.NaN), mean: r(values.reduce((a, b) => a + b, 0) / values.length) };
}

/** The store head's commit, played by a thread: every `everyMillis` append `bytes` to a file and fsync it. */
function startContention(dir: string): Worker {
  const code = `
    const { workerData, parentPort } = require('node:worker_threads');
    const fs = require('node:fs');
    const { path, bytes, everyMillis } = workerData;
    const chunk = Buffer.alloc(1 << 20, 0x33);
    const fd = fs.openSync(path, 'w');
    let size = 0, stop = false;
    parentPort.on('message', () => { stop = true; });
    const tick = () => {
      if (stop) { fs.closeSync(fd); fs.rmSync(path, { force: true }); parentPort.postMessage('stopped'); return; }
      if (size > 256 * 1048576) { fs.ftruncateSync(fd, 0); size = 0; }
      for (let w = 0; w < bytes; ) { const n = fs.writeSync(fd, chunk, 0, Math.min(chunk.length, bytes - w), size); w += n; size += n; }
      fs.fsyncSync(fd);
      setTimeout(tick, everyMillis);
    };
    setTimeout(tick, Math.random() * everyMillis);
  `;
  return new Worker(code, { eval: true, workerData: { path: join(dir, 'store-head-commits'), bytes: contentionBytes, everyMillis: contentionEveryMillis } });
}

async function stopContention(worker: Worker): Promise<void> {
  await new Promise<void>((resolve) => {
    worker.once('message', () => resolve());
    worker.postMessage('stop');
  });
  await worker.terminate();
}

const rows: Array<Record<string, unknown>> = [];
console.log(`group ${groupBytes} bytes every ${intervalMillis.toFixed(1)} ms, ${groups} groups per round, segments ${segmentBytes / 1048576} MiB, ${pairs} pairs; load average ${loadavg().map((l) => l.toFixed(1)).join(' ')}`);
for (const base of args.dir) {
  for (const contention of contentionBytes > 0 ? [false, true] : [false]) {
    for (let pair = 1; pair <= pairs; pair++) {
      const results: Partial<Record<Mode, ReturnType<typeof summary>>> = {};
      for (const mode of ['append', 'overwrite'] as const) {
        const dir = mkdtempSync(join(base, 'sloth-wal-sync-'));
        const worker = contention ? startContention(dir) : undefined;
        try {
          const r = round(dir, mode);
          const row = { dir: base, contention: contention ? `${contentionBytes / 1048576} MiB + fsync every ${contentionEveryMillis} ms` : 'none', pair, mode, load1: Number(loadavg()[0]?.toFixed(1)), rollovers: r.rollovers, writeAndSyncMs: summary(r.total), syncMs: summary(r.sync) };
          results[mode] = row.writeAndSyncMs;
          rows.push(row);
          console.log(JSON.stringify(row));
        } finally {
          if (worker !== undefined) await stopContention(worker);
          rmSync(dir, { recursive: true, force: true });
        }
      }
      const a = results.append;
      const o = results.overwrite;
      if (a !== undefined && o !== undefined) console.log(`  ${base} contention=${contention} pair ${pair}: overwrite/append write+sync p50 ${(o.p50 / a.p50).toFixed(2)}, p99 ${(o.p99 / a.p99).toFixed(2)}, mean ${(o.mean / a.mean).toFixed(2)}`);
    }
  }
}
