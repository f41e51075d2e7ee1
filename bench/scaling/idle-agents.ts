/** The idle agents of `placement.ts`, wherever they run (its own event loop or `placement-agents.ts`). */
import { JobWorker, type PlaybookRunner } from '@sloth/agent';
import { silentLogger, type RedisKeys } from '@sloth/core';

export interface IdleAgentsOptions {
  readonly redisUrl: string;
  readonly keys: RedisKeys;
  readonly agentIds: readonly string[];
  /** Runs each agent works on at once. */
  readonly concurrency: number;
  /** Called as each run starts. */
  readonly onStart: (runId: string, atMillis: number) => void;
  /** Called as an agent's worker takes a run from its queue (before the done-marker check and the `running` report); `activeAtMillis`: when the worker asked Redis for it. */
  readonly onFetched?: ((runId: string, atMillis: number, activeAtMillis: number | undefined) => void) | undefined;
  /** The workers' `runningReportDelayMillis` (undefined: the agent's default). */
  readonly runningReportDelayMillis?: number | undefined;
  /** The workers' `doneCheckOnFirstDelivery` (undefined: the agent's default). */
  readonly doneCheckOnFirstDelivery?: boolean | undefined;
  /** The workers' `startOnFetch` (undefined: the agent's default). */
  readonly startOnFetch?: boolean | undefined;
}

/**
 * One agent job worker per agent: the agent's own {@link JobWorker} on
 * `agent.<id>` (the path production runs: BullMQ worker, done marker,
 * `running` and result reports on the results stream), with a playbook
 * runner that finishes at once (failed while a task's params ask for it: `benchFailAttempts`). A run starts when the worker hands it to
 * the runner. Resolves once every worker is ready, to a function that stops them all.
 */
export async function startIdleAgents(o: IdleAgentsOptions): Promise<() => Promise<void>> {
  const runner: PlaybookRunner = {
    run: (job) => {
      o.onStart(job.remediationId, Date.now());
      // A task can ask for failed runs (placement.ts --fail-first): its params carry `benchFailAttempts` N and the
      // first N attempts (the task attempt in the job's event) end `ok: false`, which the worker reports as any
      // failed playbook run, so the scheduler's own retry path places the next attempt.
      const failAttempts = (job.params as { benchFailAttempts?: unknown }).benchFailAttempts;
      const attempt = (job.event as { attempt?: unknown } | null)?.attempt;
      if (typeof failAttempts === 'number' && typeof attempt === 'number' && attempt <= failAttempts) {
        return Promise.resolve({ ok: false, message: `bench: attempt ${attempt} of ${failAttempts} set to fail`, durationMillis: 0, logs: [] });
      }
      return Promise.resolve({ ok: true, message: 'ok', durationMillis: 0, logs: [] });
    },
  };
  const prefix = o.keys.queuePrefix;
  const workers: JobWorker[] = [];
  for (const agentId of o.agentIds) {
    const worker = new JobWorker({ agentId, redisUrl: o.redisUrl, prefix, runner, concurrency: o.concurrency, logger: silentLogger(), onJobFetched: o.onFetched, ...(o.runningReportDelayMillis === undefined ? {} : { runningReportDelayMillis: o.runningReportDelayMillis }), ...(o.doneCheckOnFirstDelivery === undefined ? {} : { doneCheckOnFirstDelivery: o.doneCheckOnFirstDelivery }), ...(o.startOnFetch === undefined ? {} : { startOnFetch: o.startOnFetch }) });
    await worker.start();
    workers.push(worker);
  }
  return async () => {
    for (const worker of workers) await worker.shutdown();
  };
}
