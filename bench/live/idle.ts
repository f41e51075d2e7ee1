/**
 * Idle-host benchmark: the real `sloth up` (built CLI, local agent every second, own redis-server,
 * temp dirs) runs for N minutes on this host with nothing injected; incidents opened after the
 * warm-up are counted per host-hour and listed (metric, score, direction).
 *
 *   npx tsc -b && node dist/bench/live/idle.js --minutes 30 [--warmup-minutes 5] [--interval 1] [--keep-data DIR]
 *
 * --keep-data copies the run's data dir (the collector's store with every raw host series) to DIR.
 * `slothCpuMillisPerSecond`: the `sloth up` process's own CPU in each second of the run (from /proc).
 */
import { loadavg } from 'node:os';
import { sleep } from '@sloth/core';
import { cpuSeconds, rounded } from '../ingest/proc.js';
import { BenchTool, ToolUsageError } from '../tool-args.js';
import { incidentSummary, SlothUp } from './up-process.js';

const usage = `usage: node dist/bench/live/idle.js [--minutes 30] [--warmup-minutes 5] [--interval 1] [--keep-data DIR]
Runs the real sloth up on this host with nothing injected and counts the incidents opened after the
warm-up per host-hour (build first: npx tsc -b). --keep-data copies the run's data dir to DIR.`;
const tool = new BenchTool('idle', usage);
const args = tool.args({
  minutes: { type: 'string', default: '30' },
  'warmup-minutes': { type: 'string', default: '5' },
  interval: { type: 'string', default: '1' },
  'keep-data': { type: 'string' },
});

function positive(name: string, text: string | undefined): number {
  const value = text === undefined || text.trim() === '' ? Number.NaN : Number(text);
  return value > 0 && Number.isFinite(value) ? value : tool.fail(`--${name} must be a positive number, got ${JSON.stringify(text)}`);
}

async function main(): Promise<void> {
  const minutes = positive('minutes', args.minutes);
  const warmupMinutes = Number(args['warmup-minutes']);
  if (!(warmupMinutes >= 0) || warmupMinutes >= minutes) throw new ToolUsageError(`--warmup-minutes must be ≥ 0 and less than --minutes, got ${String(args['warmup-minutes'])}`);
  const up = await SlothUp.start({ intervalSeconds: positive('interval', args.interval) });
  const loads: number[] = [];
  // Sloth's own CPU in each second of the run (all roles share the process): a burst of its own work is what its detector would see.
  const ownCpuMillis: number[] = [];
  let stopped = false;
  try {
    const endMillis = up.startedMillis + minutes * 60_000;
    let lastCpu = up.pid === undefined ? Number.NaN : cpuSeconds(up.pid);
    for (let second = 0; Date.now() < endMillis; second += 1) {
      if (second % 60 === 0) loads.push(loadavg()[0] as number);
      await sleep(Math.min(1_000, Math.max(0, endMillis - Date.now())));
      const cpu = up.pid === undefined ? Number.NaN : cpuSeconds(up.pid);
      if (Number.isFinite(cpu) && Number.isFinite(lastCpu)) ownCpuMillis.push(1_000 * (cpu - lastCpu));
      lastCpu = cpu;
    }
    const events = await up.transitions();
    const summary = incidentSummary(events, { startMillis: up.startedMillis, countedFromMillis: up.startedMillis + warmupMinutes * 60_000, hostHours: (minutes - warmupMinutes) / 60 });
    // Ctrl-C: every role of `sloth up` stops; nothing it scores on the way out may open an incident.
    const duringShutdown = await up.stop({ keepDataIn: args['keep-data'] });
    stopped = true;
    console.log(
      JSON.stringify(
        {
          minutes,
          warmupMinutes,
          agentIntervalSeconds: Number(args.interval),
          ...summary,
          transitionsDuringShutdown: duringShutdown === null ? 'not read' : duringShutdown.map((e) => ({ state: e.state, metric: e.metric, seriesId: e.seriesId, score: Number(e.score.toFixed(3)) })),
          slothCpuMillisPerSecond: ownCpuMillis.length === 0 ? 'not read' : rounded(ownCpuMillis),
          loadAverage1m: { min: Math.min(...loads), max: Math.max(...loads), mean: Number((loads.reduce((a, b) => a + b, 0) / loads.length).toFixed(1)) },
        },
        null,
        2,
      ),
    );
  } finally {
    if (!stopped) await up.stop();
  }
}

await tool.run(main);
