/**
 * Where the slowest accepted requests of a `bench/ingest/run.ts` run waited, from two of its outputs:
 * `--requests-log` (every request: sent at, latency, Server-Timing phases) and `--strace` (the
 * collector's syncs, vectored writes and event-loop waits, with wall-clock start and duration).
 *
 *   npx tsx bench/ingest/tail-evidence.ts --requests FILE --strace FILE [--percentile 99] [--diskstats FILE]
 *
 * For the requests at or above the percentile and, as the base rate, for all accepted requests, it
 * reports how many were in flight while: the WAL group's fdatasync syscall itself took more than
 * 10 ms; SQLite synced (its WAL or database file: the store head's checkpoint), or was within 1 s
 * before such a sync (the commit itself, which precedes its checkpoint); the main
 * thread ran more than 10 ms without returning to its event loop (JS, GC, anything but waiting). If
 * the slow requests share one of these far more often than all requests do, that is what they wait for.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { percentile } from './proc.js';

const { values: args } = parseArgs({
  options: {
    requests: { type: 'string' },
    strace: { type: 'string' },
    percentile: { type: 'string', default: '99' },
    /**
     * Lines `<epoch seconds> <the disk's /proc/diskstats fields after its name>` sampled during the run (every
     * ~20 ms): the whole machine's writes, flushes and discards on that disk, compared inside the slow WAL
     * syncs and overall.
     */
    diskstats: { type: 'string' },
  },
});
if (args.requests === undefined || args.strace === undefined) throw new Error('usage: tail-evidence.ts --requests FILE --strace FILE [--percentile 99]');
const slowPercentile = Number(args.percentile);
if (!(slowPercentile >= 0 && slowPercentile < 100)) throw new Error(`--percentile must be in [0, 100), got ${args.percentile}`);

interface Call {
  readonly tid: number;
  readonly name: string;
  readonly path: string;
  /** ms since the epoch */
  readonly start: number;
  readonly end: number;
}

/** Parses `strace -f -ttt -T -y` output, joining `<unfinished ...>` with its `<... resumed>` line. */
function parseStrace(text: string): Call[] {
  const calls: Call[] = [];
  const open = new Map<number, { name: string; path: string; start: number }>();
  for (const line of text.split('\n')) {
    const m = /^(\d+)\s+(\d+\.\d+)\s+(.*)$/.exec(line);
    if (m === null) continue;
    const tid = Number(m[1]);
    const at = Number(m[2]) * 1000;
    const rest = m[3] as string;
    const duration = /<(\d+\.\d+)>$/.exec(rest);
    const resumed = /^<\.\.\. (\w+) resumed>/.exec(rest);
    if (resumed !== null) {
      const began = open.get(tid);
      open.delete(tid);
      if (began === undefined || duration === null) continue;
      calls.push({ tid, name: began.name, path: began.path, start: began.start, end: began.start + Number(duration[1]) * 1000 });
      continue;
    }
    const call = /^(\w+)\((?:\d+<([^>]*)>)?/.exec(rest);
    if (call === null) continue;
    const name = call[1] as string;
    const path = call[2] ?? '';
    if (rest.endsWith('<unfinished ...>')) {
      open.set(tid, { name, path, start: at });
      continue;
    }
    if (duration === null) continue;
    calls.push({ tid, name, path, start: at, end: at + Number(duration[1]) * 1000 });
  }
  return calls.sort((a, b) => a.start - b.start);
}

interface Request {
  readonly status: number;
  readonly sentAtEpochMillis: number;
  readonly millis: number;
  readonly phases?: Readonly<Record<string, number>>;
}

const requests = readFileSync(args.requests, 'utf8')
  .split('\n')
  .filter((l) => l.trim() !== '')
  .map((l) => JSON.parse(l) as Request)
  .filter((r) => r.status >= 200 && r.status < 300);
if (requests.length === 0) throw new Error(`${args.requests} has no accepted request`);
const calls = parseStrace(readFileSync(args.strace, 'utf8'));
const from = Math.min(...requests.map((r) => r.sentAtEpochMillis));
const to = Math.max(...requests.map((r) => r.sentAtEpochMillis + r.millis));
const inWindow = calls.filter((c) => c.end >= from && c.start <= to);

const walFile = /\/wal\/\d{20}\.wal$/;
const storeFile = /sloth\.db(-wal)?$/;
const isSync = (c: Call): boolean => c.name === 'fdatasync' || c.name === 'fsync';
const walSyncs = inWindow.filter((c) => isSync(c) && walFile.test(c.path));
const walWrites = inWindow.filter((c) => (c.name === 'writev' || c.name === 'pwritev') && walFile.test(c.path));
const storeSyncs = inWindow.filter((c) => isSync(c) && storeFile.test(c.path));
const waits = inWindow.filter((c) => c.name.startsWith('epoll_'));
const mainTid = Math.min(...waits.map((c) => c.tid));
const mainWaits = waits.filter((c) => c.tid === mainTid);
/** The main thread away from its event loop: from one wait's return to the next wait. */
const mainBusy: Array<{ start: number; end: number }> = [];
for (let i = 1; i < mainWaits.length; i++) mainBusy.push({ start: (mainWaits[i - 1] as Call).end, end: (mainWaits[i] as Call).start });
const uringCalls = inWindow.filter((c) => c.name === 'io_uring_enter').length;

const ms = (values: readonly number[]): Record<string, number> => {
  const sorted = [...values].sort((a, b) => a - b);
  const r = (v: number): number => Number(v.toFixed(2));
  return { count: sorted.length, p50: r(percentile(sorted, 50)), p90: r(percentile(sorted, 90)), p99: r(percentile(sorted, 99)), max: r(sorted[sorted.length - 1] ?? Number.NaN) };
};
const overlaps = (a: { start: number; end: number }, b: { start: number; end: number }): boolean => a.start < b.end && b.start < a.end;

// The gap from a group's write returning to its fdatasync starting: the main thread resuming after the
// write, then a threadpool thread picking the sync up.
const writeToSync: number[] = [];
for (const sync of walSyncs) {
  let last: Call | undefined;
  for (const w of walWrites) {
    if (w.end > sync.start) break;
    last = w;
  }
  if (last !== undefined && sync.start - last.end < 1_000) writeToSync.push(sync.start - last.end);
}

const longWalSyncs = walSyncs.filter((c) => c.end - c.start > 10);
const longMainBusy = mainBusy.filter((b) => b.end - b.start > 10);
function shares(subset: readonly Request[]): Record<string, number> {
  const share = (test: (w: { start: number; end: number }) => boolean): number => Number(((100 * subset.filter((r) => test({ start: r.sentAtEpochMillis, end: r.sentAtEpochMillis + r.millis })).length) / subset.length).toFixed(1));
  return {
    requests: subset.length,
    pctDuringWalSyncOver10ms: share((w) => longWalSyncs.some((c) => overlaps(w, c))),
    pctDuringStoreSync: share((w) => storeSyncs.some((c) => overlaps(w, c))),
    // The head's commit (CPU in the writer thread, SQLite's writes) comes before its checkpoint's syncs.
    pctWithin1sBeforeStoreSync: share((w) => storeSyncs.some((c) => overlaps(w, { start: c.start - 1_000, end: c.end }))),
    pctDuringMainBusyOver10ms: share((w) => longMainBusy.some((b) => overlaps(w, b))),
    pctDuringNone: share((w) => !longWalSyncs.some((c) => overlaps(w, c)) && !storeSyncs.some((c) => overlaps(w, c)) && !longMainBusy.some((b) => overlaps(w, b))),
  };
}
const sorted = [...requests].sort((a, b) => a.millis - b.millis);
const slow = sorted.slice(Math.min(sorted.length - 1, Math.floor((slowPercentile / 100) * sorted.length)));
const phaseMeans = (subset: readonly Request[]): Record<string, number> => {
  const sums: Record<string, number> = {};
  for (const r of subset) for (const [k, v] of Object.entries(r.phases ?? {})) sums[k] = (sums[k] ?? 0) + v;
  return Object.fromEntries(Object.entries(sums).map(([k, v]) => [k, Number((v / subset.length).toFixed(2))]));
};

/**
 * Per ms, the disk's sectors written, flushes and discards (all processes) while a WAL fdatasync took > 10 ms,
 * against the whole window: whether the slow syncs share the disk with other writers or with trims.
 */
function diskDuringSlowSyncs(path: string): Record<string, unknown> {
  const samples = readFileSync(path, 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => l.trim().split(/\s+/).map(Number))
    // After the time: reads, merged, sectors, ms; writes, merged, sectors, ms; in flight, ms, weighted ms; discards, merged, sectors, ms; flushes, ms.
    .map((f) => ({ at: (f[0] as number) * 1000, sectorsWritten: f[7] as number, discards: f[12] as number, flushes: f[16] ?? Number.NaN }));
  type Rates = { sectorsWrittenPerMs: number; discardsPerSecond: number; flushesPerSecond: number; millis: number };
  const rates = (intervals: ReadonlyArray<{ start: number; end: number }>): Rates => {
    let millis = 0;
    let written = 0;
    let discards = 0;
    let flushes = 0;
    for (let i = 1; i < samples.length; i++) {
      const a = samples[i - 1] as (typeof samples)[number];
      const b = samples[i] as (typeof samples)[number];
      if (!intervals.some((w) => overlaps(w, { start: a.at, end: b.at }))) continue;
      millis += b.at - a.at;
      written += b.sectorsWritten - a.sectorsWritten;
      discards += b.discards - a.discards;
      flushes += b.flushes - a.flushes;
    }
    const r = (v: number): number => Number(v.toFixed(2));
    return { sectorsWrittenPerMs: r(written / millis), discardsPerSecond: r((1000 * discards) / millis), flushesPerSecond: r((1000 * flushes) / millis), millis: Math.round(millis) };
  };
  return { duringSlowWalSyncs: rates(longWalSyncs), wholeWindow: rates([{ start: from, end: to }]) };
}

/**
 * Each slow request's `walsync` (its group's write starting to the main thread seeing the sync done) cut
 * at the syscalls of its group: `pickup` until the writev started (a threadpool thread taking the job),
 * the writev, `hop` from it to the fdatasync (the main thread's turn, then the pool again), the fdatasync,
 * `back` until the main thread saw it. The request's instants are placed from the client's receipt less
 * `reply` and `resume`, so each part is off by the client's own delay (a few ms; negative values show it):
 * read the medians, not single rows.
 */
function walsyncParts(subset: readonly Request[]): Record<string, number> {
  const parts: Record<string, number[]> = { pickup: [], writev: [], hop: [], fdatasync: [], back: [] };
  for (const r of subset) {
    const p = r.phases;
    if (p?.walsync === undefined) continue;
    const syncedAt = r.sentAtEpochMillis + r.millis - (p.reply ?? 0) - (p.resume ?? 0);
    const writeStartedAt = syncedAt - p.walsync;
    const write = walWrites.find((w) => w.start >= writeStartedAt - 3);
    const sync = write === undefined ? undefined : walSyncs.find((c) => c.start >= write.end);
    if (write === undefined || sync === undefined) continue;
    parts.pickup?.push(write.start - writeStartedAt);
    parts.writev?.push(write.end - write.start);
    parts.hop?.push(sync.start - write.end);
    parts.fdatasync?.push(sync.end - sync.start);
    parts.back?.push(syncedAt - sync.end);
  }
  return Object.fromEntries(Object.entries(parts).map(([k, v]) => [k, Number(percentile([...v].sort((a, b) => a - b), 50).toFixed(2))]));
}

const seconds = (to - from) / 1000;
process.stdout.write(
  `${JSON.stringify(
    {
      windowSeconds: Number(seconds.toFixed(1)),
      mainTid,
      ioUringCalls: uringCalls,
      walFdatasyncMillis: ms(walSyncs.map((c) => c.end - c.start)),
      walFdatasyncsOver10ms: longWalSyncs.length,
      walFdatasyncsOver10msDuringStoreSync: longWalSyncs.filter((c) => storeSyncs.some((s) => overlaps(c, s))).length,
      walWritevMillis: ms(walWrites.map((c) => c.end - c.start)),
      walWriteToSyncGapMillis: ms(writeToSync),
      storeSyncs: storeSyncs.map((c) => ({ atSecond: Number(((c.start - from) / 1000).toFixed(2)), millis: Number((c.end - c.start).toFixed(1)), file: c.path.replace(/^.*\//, ''), tid: c.tid })),
      mainBusyMillis: ms(mainBusy.map((b) => b.end - b.start)),
      mainBusyOver10ms: longMainBusy.map((b) => ({ atSecond: Number(((b.start - from) / 1000).toFixed(2)), millis: Number((b.end - b.start).toFixed(1)) })),
      slowest: { ...shares(slow), latencyMillis: ms(slow.map((r) => r.millis)), phases: phaseMeans(slow), walsyncPartsMedianMillis: walsyncParts(slow), atSecond: slow.map((r) => Number(((r.sentAtEpochMillis - from) / 1000).toFixed(2))).sort((a, b) => a - b) },
      all: { ...shares(requests), latencyMillis: ms(requests.map((r) => r.millis)), phases: phaseMeans(requests) },
      ...(args.diskstats === undefined ? {} : { disk: diskDuringSlowSyncs(args.diskstats) }),
    },
    null,
    2,
  )}\n`,
);
