import { Queue, type JobsOptions } from 'bullmq';
import type { Redis } from 'ioredis';
import { queueNames, remediationJobName, signRemediationJob, type JobSigningKey, type RedisKeys, type RemediationJob } from '@sloth/core';

interface PendingRun {
  job: RemediationJob;
  opts: JobsOptions;
  resolve: () => void;
  reject: (error: unknown) => void;
}

/**
 * The `agent.<id>` queues runs are placed on. Runs added in the same tick
 * for one agent go to Redis as one `addBulk` (one transaction, one round
 * trip) instead of one script call each, so a burst of placements costs
 * Redis and the event loop a fraction of what it would.
 */
export class AgentQueues {
  private readonly redis: Redis;
  private readonly keys: RedisKeys;
  private readonly queues = new Map<string, Queue>();
  private pending = new Map<string, PendingRun[]>();
  private flushing = false;
  private readonly signingKey: JobSigningKey | undefined;

  /** `redis`: a non-blocking connection the queues share (BullMQ's scripts are defined on it). `signingKey` signs every job added. */
  constructor(redis: Redis, keys: RedisKeys, signingKey?: JobSigningKey) {
    this.redis = redis;
    this.keys = keys;
    this.signingKey = signingKey;
  }

  /** The queue of one agent (created on first use, closed by {@link AgentQueues.close}). */
  queue(agentId: string): Queue {
    let queue = this.queues.get(agentId);
    if (queue === undefined) {
      queue = new Queue(queueNames.agent(agentId), { connection: this.redis, prefix: this.keys.queuePrefix });
      this.queues.set(agentId, queue);
    }
    return queue;
  }

  /**
   * Adds a run (job id `opts.jobId`) to an agent's queue; resolves once it is in Redis. `validForMillis`: how long
   * its signature lets it start (core's default, an hour, when not given).
   */
  add(agentId: string, job: RemediationJob, opts: JobsOptions, validForMillis?: number): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const list = this.pending.get(agentId);
      const signed = signRemediationJob(job, this.signingKey, { validForMillis });
      if (list === undefined) this.pending.set(agentId, [{ job: signed, opts, resolve, reject }]);
      else list.push({ job: signed, opts, resolve, reject });
      if (this.flushing) return;
      this.flushing = true;
      setImmediate(() => this.flush());
    });
  }

  private flush(): void {
    const batches = this.pending;
    this.pending = new Map();
    this.flushing = false;
    for (const [agentId, runs] of batches) {
      const queue = this.queue(agentId);
      const added = runs.length === 1 ? queue.add(remediationJobName, runs[0]?.job, runs[0]?.opts) : queue.addBulk(runs.map((run) => ({ name: remediationJobName, data: run.job, opts: run.opts })));
      added.then(
        () => {
          for (const run of runs) run.resolve();
        },
        (error: unknown) => {
          for (const run of runs) run.reject(error);
        },
      );
    }
  }

  async close(): Promise<void> {
    for (const queue of this.queues.values()) await queue.close();
    this.queues.clear();
  }
}
