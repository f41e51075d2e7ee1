/** The idle agents of `placement.ts`, wherever they run (its own event loop or `placement-agents.ts`). */
import { Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { encodeJsonMessage, queueNames, remediationJobSchema, remediationResultsStream, type RedisKeys } from '@sloth/core';

export interface IdleAgentsOptions {
  readonly redisUrl: string;
  readonly keys: RedisKeys;
  readonly agentIds: readonly string[];
  /** Runs each agent works on at once. */
  readonly concurrency: number;
  /** Called as each run starts. */
  readonly onStart: (runId: string, atMillis: number) => void;
}

/**
 * One BullMQ worker per agent on `agent.<id>` that starts and finishes a run at
 * once and, like an agent's job worker, reports `running` and then the result
 * on the results stream (the scheduler applies both). Resolves once every
 * worker is ready, to a function that stops them all.
 */
export async function startIdleAgents(o: IdleAgentsOptions): Promise<() => Promise<void>> {
  const stream = remediationResultsStream(o.keys);
  const reporter = new Redis(o.redisUrl, { maxRetriesPerRequest: null, enableAutoPipelining: true });
  const connections: Redis[] = [];
  const workers: Worker[] = [];
  for (const id of o.agentIds) {
    const connection = new Redis(o.redisUrl, { maxRetriesPerRequest: null });
    connections.push(connection);
    const worker = new Worker(
      queueNames.agent(id),
      async (job) => {
        const data = remediationJobSchema.parse(job.data);
        const at = Date.now();
        o.onStart(data.remediationId, at);
        await Promise.all([
          reporter.xadd(stream, '*', ...encodeJsonMessage({ remediationId: data.remediationId, agentId: id, state: 'running', attempt: 1, atMillis: at })),
          reporter.xadd(stream, '*', ...encodeJsonMessage({ remediationId: data.remediationId, agentId: id, state: 'succeeded', attempt: 1, atMillis: Date.now(), ok: true, message: 'ok' })),
        ]);
      },
      { connection, prefix: o.keys.queuePrefix, concurrency: o.concurrency },
    );
    await worker.waitUntilReady();
    workers.push(worker);
  }
  return async () => {
    for (const worker of workers) await worker.close();
    for (const connection of connections) connection.disconnect();
    reporter.disconnect();
  };
}
