/**
 * Real faults on this host under the real `sloth up` (built CLI, local agent every second, own
 * redis-server, the shipped playbooks in dry-run): after the warm-up, one core is burnt for 60 s
 * (`yes > /dev/null`), then, after a rest, ~2 GiB are allocated and touched for 60 s. Reports the
 * time from each fault's start to an incident `open` above the expected range on the right metric,
 * which shipped playbooks' triggers match the incident's transitions, and what a dry-run of
 * kill-top-cpu would signal during the burn.
 *
 *   npx tsc -b && node dist/bench/live/faults.js [--warmup-seconds 180] [--rest-seconds 120] [--memory-gib 2]
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { sleep, type AnomalyEvent } from '@sloth/core';
import { loadPlaybookDirectory, shutdownPlaybookRuntime, type DirectoryPlaybook } from '@sloth/agent';
import { repoRoot, SlothUp } from './up-process.js';

const { values: args } = parseArgs({
  options: {
    'warmup-seconds': { type: 'string', default: '180' },
    'rest-seconds': { type: 'string', default: '120' },
    'fault-seconds': { type: 'string', default: '60' },
    'memory-gib': { type: 'string', default: '2' },
  },
});

function numberArg(name: string, min: number): number {
  const value = Number(args[name as keyof typeof args]);
  if (!(value >= min)) throw new Error(`--${name} must be a number ≥ ${min}, got ${String(args[name as keyof typeof args])}`);
  return value;
}

interface FaultResult {
  fault: string;
  startedAt: string;
  /** Seconds from the fault's start to the first matching incident `open` (sample time), or null. */
  secondsToOpen: number | null;
  open: Pick<AnomalyEvent, 'metric' | 'seriesId' | 'score' | 'direction' | 'cause' | 'value'> | null;
  /** Every incident opened during the fault and 30 s after it, on any series. */
  opens: Array<{ atSeconds: number; seriesId: string; direction: string | undefined; score: number }>;
  /** Shipped playbooks whose triggers match a transition of the fault's incident, with the earliest second. */
  playbooksMatched: Record<string, number>;
}

function waitExit(child: ChildProcess): Promise<void> {
  // A child killed by a signal has no exit code, only a signal code.
  return child.exitCode !== null || child.signalCode !== null ? Promise.resolve() : new Promise((resolve) => child.once('exit', () => resolve()));
}

async function runFault(
  up: SlothUp,
  playbooks: readonly DirectoryPlaybook[],
  name: string,
  start: () => ChildProcess,
  right: (e: AnomalyEvent) => boolean,
  faultSeconds: number,
  during?: (event: AnomalyEvent) => void,
): Promise<FaultResult> {
  const startedMillis = Date.now();
  const child = start();
  const seen = new Set<string>();
  let open: AnomalyEvent | undefined;
  const matched: Record<string, number> = {};
  const opens: FaultResult['opens'] = [];
  const endMillis = startedMillis + (faultSeconds + 30) * 1000;
  const stopFaultAt = startedMillis + faultSeconds * 1000;
  let stopped = false;
  while (Date.now() < endMillis) {
    if (!stopped && Date.now() >= stopFaultAt) {
      child.kill('SIGKILL');
      stopped = true;
    }
    for (const e of await up.transitions()) {
      const key = `${e.incidentId ?? ''}/${e.state ?? ''}/${e.timestampMillis}`;
      if (seen.has(key) || e.timestampMillis < startedMillis) continue;
      seen.add(key);
      const atSeconds = Math.round((e.timestampMillis - startedMillis) / 100) / 10;
      if (e.state === 'open') opens.push({ atSeconds, seriesId: e.seriesId, direction: e.direction, score: Number(e.score.toFixed(3)) });
      if (!right(e)) continue;
      if (open === undefined && e.state === 'open' && e.direction === 'above') open = e;
      if (open !== undefined && e.incidentId === open.incidentId) {
        for (const p of playbooks) if (matched[p.name] === undefined && p.matches({ kind: 'anomaly', anomaly: e })) matched[p.name] = atSeconds;
        if (!stopped) during?.(e);
      }
    }
    await sleep(1000);
  }
  if (!stopped) child.kill('SIGKILL');
  await waitExit(child);
  return {
    fault: name,
    startedAt: new Date(startedMillis).toISOString(),
    secondsToOpen: open === undefined ? null : Math.round((open.timestampMillis - startedMillis) / 100) / 10,
    open: open === undefined ? null : { metric: open.metric, seriesId: open.seriesId, score: Number(open.score.toFixed(3)), direction: open.direction, cause: open.cause, value: open.value },
    opens,
    playbooksMatched: matched,
  };
}

/** `sloth playbook test kill-top-cpu.lua --event E` in dry-run: which triggers match and what it would signal. */
function dryRunKillTopCpu(event: AnomalyEvent, dir: string): string {
  const file = join(dir, 'event.json');
  writeFileSync(file, JSON.stringify(event));
  const result = spawnSync(
    process.execPath,
    [join(repoRoot, 'cli', 'dist', 'src', 'main.js'), 'playbook', 'test', join(repoRoot, 'playbooks', 'kill-top-cpu.lua'), '--event', file, '--allow-exec', 'ps', '--allow-exec', 'kill', '--read-only-exec', 'ps', '--data-dir', join(dir, 'pb')],
    { encoding: 'utf8', timeout: 60_000 },
  );
  return `${result.stdout}${result.stderr}`.trim();
}

async function main(): Promise<void> {
  const warmupSeconds = numberArg('warmup-seconds', 0);
  const restSeconds = numberArg('rest-seconds', 0);
  const faultSeconds = numberArg('fault-seconds', 10);
  const memoryGib = numberArg('memory-gib', 0.1);
  const dir = mkdtempSync(join(tmpdir(), 'sloth-bench-faults-'));
  const playbooks = await loadPlaybookDirectory(join(repoRoot, 'playbooks'));
  const up = await SlothUp.start({ intervalSeconds: 1 });
  const loads: number[] = [];
  const timer = setInterval(() => loads.push(loadavg()[0] as number), 10_000);
  try {
    await sleep(warmupSeconds * 1000);
    let dryRun: string | undefined;
    let burner: ChildProcess | undefined;
    const cpu = await runFault(
      up,
      playbooks,
      'cpu-burn (one core, yes > /dev/null)',
      () => (burner = spawn('sh', ['-c', 'exec yes > /dev/null'], { stdio: 'ignore' })),
      (e) => e.metric === 'system.cpu.utilization',
      faultSeconds,
      (e) => {
        if (dryRun === undefined && playbooks.some((p) => p.name === 'kill-top-cpu' && p.matches({ kind: 'anomaly', anomaly: e }))) dryRun = dryRunKillTopCpu(e, dir);
      },
    );
    await sleep(restSeconds * 1000);
    const bytes = Math.round(memoryGib * 2 ** 30);
    const memory = await runFault(
      up,
      playbooks,
      `memory-spike (${memoryGib} GiB allocated and touched)`,
      () =>
        spawn(process.execPath, ['-e', `const b = Buffer.alloc(${bytes}); for (let i = 0; i < b.length; i += 4096) b[i] = 1; setInterval(() => b[0]++, 1000);`], { stdio: 'ignore' }),
      (e) => e.metric === 'system.memory.usage' || e.metric === 'system.memory.utilization',
      faultSeconds,
    );
    console.log(
      JSON.stringify(
        {
          agentIntervalSeconds: 1,
          warmupSeconds,
          faults: [cpu, memory],
          burnerPid: burner?.pid,
          killTopCpuDryRun: dryRun ?? 'kill-top-cpu never matched during the burn',
          loadAverage1m: { min: Math.min(...loads), max: Math.max(...loads) },
        },
        null,
        2,
      ),
    );
  } finally {
    clearInterval(timer);
    await up.stop();
    // The playbook runtime's worker thread would keep the process alive.
    await shutdownPlaybookRuntime();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
