/** Reading a process's CPU, threads and memory from /proc, and latency percentiles, for the ingest benchmark. */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number;
}

/** User + system CPU seconds a process (or, with `tid`, one of its threads) has used so far (from /proc; 100 ticks per second). */
export function cpuSeconds(pid: number, tid?: number): number {
  try {
    const path = tid === undefined ? `/proc/${pid}/stat` : `/proc/${pid}/task/${tid}/stat`;
    const fields = readFileSync(path, 'utf8').replace(/^.*\) /s, '').split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return Number.NaN;
  }
}

/**
 * CPU seconds by thread: `main`, and the rest by name (`/proc/<pid>/task/<tid>/comm`; Node 20 names its
 * worker threads, V8's helpers and libuv's pool all `node`: those are reported as `thread +N`, N = tid - pid,
 * in start order: V8's platform threads first, then libuv's pool and worker threads as they start).
 */
export function threadCpuSeconds(pid: number): Map<number, { name: string; seconds: number }> {
  const threads = new Map<number, { name: string; seconds: number }>();
  let tids: string[] = [];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return threads;
  }
  for (const tid of tids) {
    try {
      const name = readFileSync(`/proc/${pid}/task/${tid}/comm`, 'utf8').trim();
      const fields = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8').replace(/^.*\) /s, '').split(' ');
      threads.set(Number(tid), { name: Number(tid) === pid ? 'main' : name === 'node' ? `thread +${Number(tid) - pid}` : name, seconds: (Number(fields[11]) + Number(fields[12])) / 100 });
    } catch {
      // the thread ended between the listing and the read
    }
  }
  return threads;
}

/** CPU seconds each thread name used between two `threadCpuSeconds` readings (threads started since count from 0). */
export function threadCpuDelta(before: Map<number, { name: string; seconds: number }>, after: Map<number, { name: string; seconds: number }>): Record<string, number> {
  const byName: Record<string, number> = {};
  for (const [tid, { name, seconds }] of after) byName[name] = (byName[name] ?? 0) + seconds - (before.get(tid)?.seconds ?? 0);
  return Object.fromEntries(Object.entries(byName).map(([name, seconds]) => [name, Number(seconds.toFixed(2))]).sort((a, b) => (b[1] as number) - (a[1] as number)));
}

export function rssMb(pid: number): number {
  try {
    const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match === null ? 0 : Number(match[1]) / 1024;
  } catch {
    return 0;
  }
}

/** The pid of the redis-server listening on `port` (it is a child of this process). */
export function redisServerPid(port: number): number | undefined {
  try {
    const out = execFileSync('pgrep', ['-P', String(process.pid), '-f', `redis-server.*${port}`], { encoding: 'utf8' }).trim();
    const pid = Number(out.split('\n')[0]);
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** Waits (up to 10 s) until a process uses less than 5 % of a core over half a second: its work after the load is done. */
export async function quiet(pid: number): Promise<void> {
  let before = cpuSeconds(pid);
  for (let i = 0; i < 20; i++) {
    await new Promise((r) => setTimeout(r, 500));
    const now = cpuSeconds(pid);
    if (!(now - before >= 0.025)) return;
    before = now;
  }
}

export function rounded(values: number[]): { p50: number; p90: number; p99: number; max: number } {
  const sorted = [...values].sort((x, y) => x - y);
  return { p50: Number(percentile(sorted, 50).toFixed(1)), p90: Number(percentile(sorted, 90).toFixed(1)), p99: Number(percentile(sorted, 99).toFixed(1)), max: Number((sorted[sorted.length - 1] ?? Number.NaN).toFixed(1)) };
}
