import { Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { encodeJsonMessage, queueNames, remediationJobSchema, remediationResultsStream, type RedisKeys, type RemediationJob, type RemediationReport } from '@sloth/core';

/** Succeed (`done`), fail (`exit code 1`), never finish, or end as given: a command's result message carries its output. */
export type RunBehaviour = 'succeed' | 'fail' | 'hang' | { readonly ok: boolean; readonly message: string };

/**
 * Stands in for agents in scheduler tests (the scheduler may not import the
 * agent): a BullMQ worker on `agent.<id>` that takes playbook jobs and reports
 * on the results stream in the agent's format, succeeding, failing or never
 * finishing as told.
 */
export class AgentDouble {
  readonly runs: Array<{ agentId: string; job: RemediationJob }> = [];
  private readonly workers: Worker[] = [];
  private readonly connections: Redis[] = [];
  behaviour: (agentId: string, job: RemediationJob) => RunBehaviour = () => 'succeed';

  constructor(
    private readonly redisUrl: string,
    private readonly keys: RedisKeys,
  ) {}

  async start(agentId: string): Promise<void> {
    const connection = new Redis(this.redisUrl, { maxRetriesPerRequest: null });
    const reporter = new Redis(this.redisUrl, { maxRetriesPerRequest: null });
    this.connections.push(connection, reporter);
    const report = async (r: RemediationReport): Promise<void> => {
      await reporter.xadd(remediationResultsStream(this.keys), '*', ...encodeJsonMessage(r));
    };
    const worker = new Worker(
      queueNames.agent(agentId),
      async (job) => {
        const data = remediationJobSchema.parse(job.data);
        this.runs.push({ agentId, job: data });
        await report({ remediationId: data.remediationId, agentId, state: 'running', attempt: 1, atMillis: Date.now() });
        const behaviour = this.behaviour(agentId, data);
        if (behaviour === 'hang') return;
        const ok = typeof behaviour === 'string' ? behaviour === 'succeed' : behaviour.ok;
        const message = typeof behaviour === 'string' ? (ok ? 'done' : 'exit code 1') : behaviour.message;
        await report({ remediationId: data.remediationId, agentId, state: ok ? 'succeeded' : 'failed', attempt: 1, atMillis: Date.now(), ok, message, durationMillis: 1 });
      },
      { connection, prefix: this.keys.queuePrefix, concurrency: 4 },
    );
    await worker.waitUntilReady();
    this.workers.push(worker);
  }

  async stop(): Promise<void> {
    for (const worker of this.workers) await worker.close();
    for (const connection of this.connections) connection.disconnect();
  }
}
