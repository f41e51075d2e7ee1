/**
 * The idle agents of `placement.ts`, in a process of their own (as real
 * agents are: on other hosts, never on the scheduler's event loop). Forked by
 * placement.ts with its settings as JSON in argv[2]; each agent is the agent's
 * job worker (JobWorker) on `agent.<id>` with a runner that finishes at once
 * (see idle-agents.ts).
 *
 * Messages to the parent: `{ kind: 'ready' }`, then batches of
 * `{ kind: 'started', runs: [[runId, fetchedAtMillis, startedAtMillis, activeAtMillis], …] }` (activeAtMillis: when the worker asked Redis for the run), and on `{ kind: 'stop' }`
 * the CPU this process used since `{ kind: 'begin' }` and its stalls (GC, event-loop delays):
 * `{ kind: 'stopped', cpuMicros, stalls }`.
 */
import { redisKeys } from '@sloth/core';
import { BenchTool } from '../tool-args.js';
import { startIdleAgents } from './idle-agents.js';
import { watchStalls } from './placement-stalls.js';

interface AgentsSettings {
  redisUrl: string;
  prefix: string;
  agentIds: string[];
  concurrency: number;
  loopThresholdMillis: number;
  runningReportDelayMillis?: number;
  doneCheckOnFirstDelivery?: boolean;
  startOnFetch?: boolean;
}

const usage = `usage: node dist/bench/scaling/placement-agents.js SETTINGS_JSON (forked by placement.ts, not run by hand)
The idle agents of bench/scaling/placement.ts in a process of their own: placement.ts forks this file with its
settings as one JSON argument and talks to it over the IPC channel.`;
const tool = new BenchTool('scaling/placement-agents', usage);
const { positionals } = tool.argsAndPositionals({});
if (positionals.length !== 1 || process.send === undefined) tool.fail('takes one JSON argument and an IPC channel: run bench/scaling/placement.ts, which forks it');
const settings = ((): AgentsSettings => {
  try {
    return JSON.parse(positionals[0] as string) as AgentsSettings;
  } catch (error) {
    return tool.fail(`the settings are not JSON (${(error as Error).message})`);
  }
})();
const send = (message: unknown): void => {
  process.send?.(message);
};
const keys = redisKeys(settings.prefix);
let started: Array<[string, number, number, number]> = [];
const fetched = new Map<string, [number, number]>();
let cpuBefore: NodeJS.CpuUsage | undefined;
let watch: ReturnType<typeof watchStalls> | undefined;
const stopAgents = await startIdleAgents({
  redisUrl: settings.redisUrl,
  keys,
  agentIds: settings.agentIds,
  concurrency: settings.concurrency,
  runningReportDelayMillis: settings.runningReportDelayMillis,
  doneCheckOnFirstDelivery: settings.doneCheckOnFirstDelivery,
  startOnFetch: settings.startOnFetch,
  onFetched: (runId, at, activeAt) => fetched.set(runId, [at, activeAt ?? Number.NaN]),
  onStart: (runId, at) => {
    const [fetchedAt, activeAt] = fetched.get(runId) ?? [Number.NaN, Number.NaN];
    started.push([runId, fetchedAt, at, activeAt]);
    fetched.delete(runId);
  },
});

const flush = setInterval(() => {
  if (started.length === 0) return;
  send({ kind: 'started', runs: started });
  started = [];
}, 50);

process.on('message', (message: { kind?: string }) => {
  if (message.kind === 'begin') {
    cpuBefore = process.cpuUsage();
    watch = watchStalls(settings.loopThresholdMillis);
  }
  if (message.kind !== 'stop') return;
  const cpu = process.cpuUsage(cpuBefore);
  const stalls = watch?.stop() ?? [];
  void (async () => {
    clearInterval(flush);
    if (started.length > 0) send({ kind: 'started', runs: started });
    send({ kind: 'stopped', cpuMicros: cpu.user + cpu.system, stalls });
    await stopAgents();
    process.disconnect();
  })();
});
// The parent gone (killed, crashed): do not linger.
process.on('disconnect', () => process.exit(0));
send({ kind: 'ready' });
