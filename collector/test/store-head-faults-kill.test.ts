import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisServer } from '@sloth/core';
import { CollectorProcess, eventually, getJson, storedRequests as storedRequestsOf } from './helpers/collector-process.js';
import { encodeMetricsRequest, gaugeRequestObject } from './helpers/otlp-requests.js';

/**
 * SIGKILL of a real collector at the two moments of the store head's life that no other test hits
 * (issue 18, brief E part 1b):
 *  - during a head commit (the SQLite transaction of every held point is being written);
 *  - after the write-ahead log's release decided to delete committed segments but before the unlink
 *    finished: the collector runs under `strace`, which holds every unlink(at) system call of the
 *    process at its entry (fault injection, `-e inject=…:delay_enter=`), so the release is decided,
 *    the deletion is in flight, and the kill lands there for certain.
 * After each, the restarted collector must replay exactly what was not committed: every
 * acknowledged point once in the query results and once in the chunk rows, and nothing else.
 */

let redis: RedisServer;
const root = mkdtempSync(join(tmpdir(), 'sloth-head-faults-kill-'));
const baseMillis = Date.now() - 3_600_000;
const began = Date.now();
/** Progress on stdout, so a slow step on a loaded machine shows where the time went. */
const step = (what: string): void => console.log(`store-head-faults-kill +${((Date.now() - began) / 1000).toFixed(1)} s: ${what}`);

beforeAll(async () => {
  redis = await RedisServer.start({ dir: join(root, 'redis'), appendOnly: false });
});

afterAll(async () => {
  await redis?.stop();
  rmSync(root, { recursive: true, force: true });
});

interface Case {
  readonly dataDir: string;
  readonly config: string;
  readonly agent: string;
  readonly series: number;
}

function newCase(name: string, series: number, collectorYaml: string): Case {
  const dataDir = join(root, name);
  const config = join(root, `${name}.yaml`);
  writeFileSync(config, `collector:\n${collectorYaml}`);
  return { dataDir, config, agent: name, series };
}

async function start(c: Case): Promise<CollectorProcess> {
  return await CollectorProcess.start({ dataDir: c.dataDir, redisUrl: redis.url, redisPrefix: `hfk${process.pid}`, extraArgs: ['--config', c.config] });
}

/** Request `n`: one point on each series at its own timestamp, with a value naming it. */
function body(c: Case, n: number): Buffer {
  const points = Array.from({ length: c.series }, (_, i) => ({ attributes: { i: String(i) }, value: n * 10_000 + i, timeMillis: baseMillis + n * 1000 }));
  return encodeMetricsRequest(gaugeRequestObject({ agent: c.agent, name: 'test.head_kill', points }));
}

/** Sends requests `from` … `to - 1`, 8 at a time; returns the acknowledged ones. */
async function sendRange(collector: CollectorProcess, c: Case, from: number, to: number): Promise<Set<number>> {
  const acked = new Set<number>();
  let next = from;
  const worker = async (): Promise<void> => {
    while (next < to) {
      const n = next++;
      // A 503 (the latency budget shedding load on a busy machine) is retried, as an agent would.
      for (let attempt = 0; attempt < 20; attempt++) {
        const response = await fetch(`${collector.otlpUrl}/v1/metrics`, { method: 'POST', headers: { 'content-type': 'application/x-protobuf' }, body: body(c, n) });
        await response.arrayBuffer();
        if (response.status === 200) acked.add(n);
        if (response.status !== 503) break;
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  };
  await Promise.all(Array.from({ length: 8 }, () => worker()));
  return acked;
}

function openStore(c: Case): Database.Database {
  return new Database(join(c.dataDir, 'collector', 'sloth.db'), { readonly: true, fileMustExist: true });
}

function storedCheckpoint(c: Case): number {
  const db = openStore(c);
  try {
    const value = db.prepare(`SELECT value FROM meta WHERE key = 'checkpoint'`).pluck().get() as string | undefined;
    return value === undefined ? 0 : Number(value);
  } finally {
    db.close();
  }
}

/** Points in chunk rows of the case's agent: the distinct points stored, unless something was written twice. */
function storedPointRows(c: Case): number {
  const db = openStore(c);
  try {
    return db.prepare('SELECT coalesce(sum(c.count), 0) FROM chunks c JOIN series s ON s.id = c.series_id WHERE s.agent_id = ?').pluck().get(c.agent) as number;
  } finally {
    db.close();
  }
}

const walDir = (c: Case): string => join(c.dataDir, 'collector', 'wal');
const segmentFiles = (c: Case): string[] => readdirSync(walDir(c)).filter((f) => f.endsWith('.wal')).sort();

/** Points per request id in the query results (request r wrote r * 10,000 + i to series i). */
const storedRequests = (collector: CollectorProcess, c: Case, lastRequest: number): Promise<Map<number, number>> =>
  storedRequestsOf(collector, { agent: c.agent, baseMillis, lastRequest, valueOf: (request, i) => request * 10_000 + i });

/** Every acknowledged request stored once on every series, nothing unacknowledged but `sent`, and no point row twice. */
async function expectExactlyOnce(collector: CollectorProcess, c: Case, acked: ReadonlySet<number>, sent: number): Promise<void> {
  const stored = await storedRequests(collector, c, sent);
  for (const id of acked) expect(stored.get(id), `request ${id}`).toBe(c.series);
  for (const [id, count] of stored) {
    expect(id).toBeLessThan(sent);
    expect(count).toBe(c.series);
  }
  expect(storedPointRows(c)).toBe(stored.size * c.series);
}

/** strace can attach to a process here (root, or ptrace allowed), and knows fault injection. */
function straceWorks(): string | undefined {
  const probe = spawnSync('strace', ['-f', '-qq', '-o', '/dev/null', '-e', 'trace=unlinkat', '-e', 'inject=unlinkat:delay_enter=1000', 'true'], { encoding: 'utf8' });
  if (probe.error !== undefined) return String(probe.error);
  return probe.status === 0 ? undefined : probe.stderr.trim();
}
const straceProblem = straceWorks();
if (straceProblem !== undefined) console.warn(`store-head-faults-kill: the unlink case is skipped: strace cannot run with fault injection here: ${straceProblem}`);

describe('SIGKILL around the store head (real collector processes)', () => {
  it('during a head commit: restart replays exactly what was not committed', async () => {
    const outcomes: string[] = [];
    // A kill that lands once the commit finished checks "committed, not yet released" instead; try again for a mid-commit one.
    for (let attempt = 0; attempt < 4 && !outcomes.includes('mid-commit'); attempt++) {
      const c = newCase(`commit${attempt}`, 250, '  storeHeadSeconds: 600\n  walSegmentBytes: 1048576\n');
      const requests = 400;
      const first = await start(c);
      let acked = new Set<number>();
      try {
        acked = await sendRange(first, c, 0, requests);
        step(`attempt ${attempt}: ${acked.size} requests acknowledged`);
        expect(acked.size).toBe(requests);
        expect(storedCheckpoint(c)).toBe(0); // all held in the head
        const sqliteWal = join(c.dataDir, 'collector', 'sloth.db-wal');
        const walBytesBefore = existsSync(sqliteWal) ? statSync(sqliteWal).size : 0;
        // A query commits the head (100,000 points, some MB of pages); the kill comes once SQLite has written
        // 256 KiB of it, more than the agents table's own small writes ever add.
        const query = fetch(`${first.otlpUrl}/api/v1/series?agent=${c.agent}`).then(
          (r) => r.arrayBuffer(),
          () => undefined,
        );
        const deadline = Date.now() + 30_000;
        while ((existsSync(sqliteWal) ? statSync(sqliteWal).size : 0) <= walBytesBefore + 256 * 1024 && Date.now() < deadline) await new Promise((r) => setImmediate(r));
        first.child.kill('SIGKILL');
        await first.stop();
        await query;
      } finally {
        await first.stop('SIGKILL');
      }
      const checkpoint = storedCheckpoint(c);
      step(`attempt ${attempt}: killed; checkpoint on disk ${checkpoint}`);
      expect([0, requests]).toContain(checkpoint); // all or nothing
      outcomes.push(checkpoint === 0 ? 'mid-commit' : 'after-commit');

      const second = await start(c);
      try {
        expect(storedCheckpoint(c)).toBe(requests);
        await expectExactlyOnce(second, c, acked, requests);
        step(`attempt ${attempt}: restarted, every acknowledged point once`);
      } finally {
        await second.stop();
      }
    }
    console.log(`store-head-faults-kill: kills during a head commit of 100,000 points: ${outcomes.join(', ')}`);
    expect(outcomes).toContain('mid-commit');
  }, 600_000);

  it.skipIf(straceProblem !== undefined)('after the release decided to delete segments, before the unlink finished: restart replays only the uncommitted, and the next release deletes the leftovers', async () => {
    const c = newCase('release', 5, '  storeHeadSeconds: 600\n  walSegmentBytes: 4096\n');
    const first = await start(c);
    const straceLog = join(root, 'release.strace');
    let tracer: ReturnType<typeof spawn> | undefined;
    const acked = new Set<number>();
    let sent = 0;
    let segmentsAtKill: string[] = [];
    try {
      for (const id of await sendRange(first, c, 0, 100)) acked.add(id);
      sent = 100;
      step('release case: 100 requests acknowledged');
      expect(acked.size).toBe(100);
      const segmentsBefore = segmentFiles(c);
      expect(segmentsBefore.length).toBeGreaterThan(3);

      // Every unlink of the collector (any thread) now waits 40 s at its entry.
      const pid = first.child.pid!;
      tracer = spawn('strace', ['-f', '-qq', '-o', straceLog, '-e', 'trace=unlink,unlinkat', '-e', 'inject=unlink,unlinkat:delay_enter=40000000', '-p', String(pid)], { stdio: 'ignore' });
      await eventually(async () => (/TracerPid:\s*[1-9]/.test(readFileSync(`/proc/${pid}/status`, 'utf8')) ? true : undefined), 10_000);
      // strace attaches to the threads one by one: give it the worker and libuv threads too.
      await new Promise((r) => setTimeout(r, 500));

      // The query commits the head (checkpoint 100); the commit releases the segments behind it.
      step('release case: strace attached');
      await getJson(`${first.otlpUrl}/api/v1/series?agent=${c.agent}`);
      expect(storedCheckpoint(c)).toBe(100);
      step('release case: committed at 100');
      // Acknowledged after the commit: held in the head, in the WAL only.
      for (const id of await sendRange(first, c, 100, 130)) acked.add(id);
      sent = 130;
      await new Promise((r) => setTimeout(r, 300));
      segmentsAtKill = segmentFiles(c);
      // The deletion is in flight, held by strace: every released segment is still there.
      for (const file of segmentsBefore) expect(segmentsAtKill).toContain(file);
    } finally {
      // The collector's exit reaches this process only once strace has sat out the injected delay and reaped
      // the killed thread (signalling strace before that leaves it hung); then strace exits on its own.
      await first.stop('SIGKILL');
      const t = tracer;
      if (t !== undefined && t.exitCode === null && t.signalCode === null) {
        const exited = new Promise((r) => t.once('exit', r));
        const timer = setTimeout(() => t.kill('SIGTERM'), 5_000);
        await exited;
        clearTimeout(timer);
      }
    }
    // strace saw the release's first unlink of a segment start and never finish.
    const trace = readFileSync(straceLog, 'utf8');
    expect(trace).toMatch(/unlink(at)?\([^)]*\.wal"/);
    expect(segmentFiles(c)).toEqual(segmentsAtKill);
    expect(storedCheckpoint(c)).toBe(100);

    const second = await start(c);
    try {
      expect(storedCheckpoint(c)).toBe(130); // 101…130 replayed, nothing before
      await expectExactlyOnce(second, c, acked, sent);
      // The leftover committed segments go with the next release (64 entries committed later).
      for (const id of await sendRange(second, c, 130, 220)) acked.add(id);
      sent = 220;
      await getJson(`${second.otlpUrl}/api/v1/series?agent=${c.agent}`);
      await eventually(async () => (segmentFiles(c).includes(segmentsAtKill[0]!) ? undefined : true), 10_000);
      await expectExactlyOnce(second, c, acked, sent);
      step('release case: leftovers deleted by the next release');
    } finally {
      await second.stop();
    }
  }, 300_000);
});
