/**
 * Real faults on this host under the real `sloth up` (built CLI, local agent every second, own
 * redis-server, the shipped playbooks in dry-run): after the warm-up, one core is burnt for 60 s
 * (`yes > /dev/null`), then, after a rest, ~2 GiB are allocated and touched for 60 s. Reports the
 * time from each fault's start to an incident `open` above the expected range on the right metric,
 * which shipped playbooks' triggers match the incident's transitions and when (kill-top-cpu on the
 * burn, report-top-memory on the spike), what a dry-run of each would do at that moment, and the
 * group the incident was in (the other incidents of the host that opened with it).
 *
 *   npx tsc -b && node dist/bench/live/faults.js [--warmup-seconds 180] [--rest-seconds 120] [--memory-gib 2] [--keep-data DIR]
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { sleep, type AnomalyEvent } from '@sloth/core';
import { loadPlaybookDirectory, shutdownPlaybookRuntime, type DirectoryPlaybook } from '@sloth/agent';
import { BenchTool } from '../tool-args.js';
import { repoRoot, SlothUp } from './up-process.js';

const usage = `usage: node dist/bench/live/faults.js [--warmup-seconds 180] [--rest-seconds 120] [--fault-seconds 60] [--memory-gib 2] [--keep-data DIR]
Runs the real sloth up, then a CPU burn and a memory spike on this host, and reports when each opened an
incident (direction, score) and which shipped playbook triggers matched it, in dry-run (build first: npx tsc -b).`;
const tool = new BenchTool('faults', usage);
const args = tool.args({
  'warmup-seconds': { type: 'string', default: '180' },
  'rest-seconds': { type: 'string', default: '120' },
  'fault-seconds': { type: 'string', default: '60' },
  'memory-gib': { type: 'string', default: '2' },
  /** Copy the run's data dir (the collector's store) here, for `recorded.js --data-dir`. */
  'keep-data': { type: 'string' },
});

function numberArg(name: string, min: number): number {
  return tool.number(name, args[name as keyof typeof args] as string | undefined, { min });
}

interface FaultResult {
  fault: string;
  startedAt: string;
  /** Seconds from the fault's start to the first matching incident `open` (sample time), or null. */
  secondsToOpen: number | null;
  open: Pick<AnomalyEvent, 'metric' | 'seriesId' | 'score' | 'direction' | 'cause' | 'value' | 'groupId'> | null;
  /** The incident's group at its last transition seen: how many incidents, and the top ones by peak score. */
  group: { incidents: number; ranked: Array<{ seriesId: string; direction: string; peakScore: number }> } | null;
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
  let group: FaultResult['group'] = null;
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
        if (e.group !== undefined) group = { incidents: e.group.incidents, ranked: e.group.members.map((m) => ({ seriesId: m.seriesId, direction: m.direction, peakScore: Number(m.peakScore.toFixed(3)) })) };
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
    open: open === undefined ? null : { metric: open.metric, seriesId: open.seriesId, score: Number(open.score.toFixed(3)), direction: open.direction, cause: open.cause, value: open.value, groupId: open.groupId },
    group,
    opens,
    playbooksMatched: matched,
  };
}

/**
 * `sloth playbook test <name>.lua --event E` in dry-run (`ps` may run: it only reads): which triggers
 * match and what the playbook would do (kill-top-cpu: which process it would signal; report-top-memory:
 * the processes it would name).
 */
function dryRunPlaybook(name: string, event: AnomalyEvent, dir: string): string {
  const file = join(dir, `${name}-event.json`);
  writeFileSync(file, JSON.stringify(event));
  const result = spawnSync(
    process.execPath,
    [join(repoRoot, 'cli', 'dist', 'src', 'main.js'), 'playbook', 'test', join(repoRoot, 'playbooks', `${name}.lua`), '--event', file, '--allow-exec', 'ps', '--allow-exec', 'kill', '--read-only-exec', 'ps', '--data-dir', join(dir, 'pb')],
    { encoding: 'utf8', timeout: 60_000 },
  );
  return `${result.stdout}${result.stderr}`.trim();
}

/** Runs the dry-run of `name` on the first transition of the fault's incident that its triggers match. */
function dryRunOnFirstMatch(playbooks: readonly DirectoryPlaybook[], name: string, dir: string): { during: (e: AnomalyEvent) => void; result: () => string } {
  let output: string | undefined;
  return {
    during: (e) => {
      if (output === undefined && playbooks.some((p) => p.name === name && p.matches({ kind: 'anomaly', anomaly: e }))) output = dryRunPlaybook(name, e, dir);
    },
    result: () => output ?? `${name} never matched during the fault`,
  };
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
    const killTopCpu = dryRunOnFirstMatch(playbooks, 'kill-top-cpu', dir);
    const reportTopMemory = dryRunOnFirstMatch(playbooks, 'report-top-memory', dir);
    let burner: ChildProcess | undefined;
    const cpu = await runFault(
      up,
      playbooks,
      'cpu-burn (one core, yes > /dev/null)',
      () => (burner = spawn('sh', ['-c', 'exec yes > /dev/null'], { stdio: 'ignore' })),
      (e) => e.metric === 'system.cpu.utilization',
      faultSeconds,
      killTopCpu.during,
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
      reportTopMemory.during,
    );
    console.log(
      JSON.stringify(
        {
          agentIntervalSeconds: 1,
          warmupSeconds,
          faults: [cpu, memory],
          burnerPid: burner?.pid,
          // Seconds from each fault's start to its shipped playbook's first matching transition (sample time).
          playbookMatchSeconds: { 'kill-top-cpu (cpu burn)': cpu.playbooksMatched['kill-top-cpu'] ?? null, 'report-top-memory (memory spike)': memory.playbooksMatched['report-top-memory'] ?? null },
          killTopCpuDryRun: killTopCpu.result(),
          reportTopMemoryDryRun: reportTopMemory.result(),
          loadAverage1m: { min: Math.min(...loads), max: Math.max(...loads) },
        },
        null,
        2,
      ),
    );
  } finally {
    clearInterval(timer);
    await up.stop({ keepDataIn: args['keep-data'] });
    // The playbook runtime's worker thread would keep the process alive.
    await shutdownPlaybookRuntime();
    rmSync(dir, { recursive: true, force: true });
  }
}

await tool.run(main);
