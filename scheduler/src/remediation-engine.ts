import { createHash } from 'node:crypto';
import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { encodeJsonMessage, maxJobValidityMillis, queueNames, remediationJobName, signRemediationJob, type JobSigningKey, type Logger, type RedisKeys, type RemediationJob, type RemediationReport, type SlothEvent } from '@sloth/core';
import { finalStates, type AuditStore, type RemediationRecord } from './audit-store.js';
import type { SchedulablePlaybook } from './playbook-catalogue.js';
import type { Trigger } from './trigger.js';

/** Safety rails of the remediation loop. */
export interface RemediationPolicy {
  /** Run everything as a dry run. */
  dryRun: boolean;
  /** Playbook names always run as a dry run. */
  dryRunPlaybooks: readonly string[];
  /** Configured parameters per playbook name. @defaultValue {} */
  playbookParams?: Readonly<Record<string, Readonly<Record<string, unknown>>>>;
  cooldownSeconds: number;
  maxConcurrent: number;
  maxConcurrentPerAgent: number;
  approvalTimeoutSeconds: number;
  /** A remediation without a result this long after it was queued is failed (its agent may be gone). @defaultValue 3600 */
  resultTimeoutSeconds?: number;
}

export interface RemediationEngineOptions {
  store: AuditStore;
  /** Shared Redis connection (not a blocking one). */
  redis: Redis;
  keys: RedisKeys;
  policy: RemediationPolicy;
  logger: Logger;
  /** @defaultValue Date.now */
  now?: () => number;
  /** Called once a remediation reaches a final state (the scheduler's metrics). */
  onFinal?: ((record: RemediationRecord) => void) | undefined;
  /** Signs every job queued for an agent; without it jobs go unsigned. */
  jobSigningKey?: JobSigningKey | undefined;
}

/** Outcome of one trigger × playbook. */
export interface TriggerOutcome {
  remediationId: string;
  playbook: string;
  state: RemediationRecord['state'];
  /** False when the record already existed (a redelivered trigger). */
  created: boolean;
}

/** Result union of approve/reject. */
export type DecisionResult =
  | { kind: 'ok'; record: RemediationRecord }
  | { kind: 'not_found' }
  | { kind: 'conflict'; record: RemediationRecord };

/** Deterministic id of one trigger × playbook × target: redelivery maps to the same record and BullMQ job. */
export function remediationId(triggerId: string, playbook: string, agentId: string): string {
  return `r${createHash('sha256').update(`${triggerId}\n${playbook}\n${agentId}`).digest('hex').slice(0, 15)}`;
}

/**
 * Parameters of one run: the scheduler's configured ones for the playbook, then
 * attributes of a `sloth:events` entry named like a declared parameter (more
 * specific, so they win). The runtime validates types and applies defaults.
 */
export function remediationParams(playbook: SchedulablePlaybook, configured: Readonly<Record<string, unknown>> | undefined, trigger: Trigger): Record<string, unknown> {
  const params: Record<string, unknown> = { ...(configured ?? {}) };
  // An alert a playbook raised (`metrics.alert`, marked source: playbook by the agent) carries whatever the
  // playbook put in it: it supplies no parameter, or one playbook could point another at any directory or URL.
  if (trigger.event.kind === 'event' && trigger.event.event.attributes.source !== 'playbook') {
    for (const name of playbook.paramNames ?? []) {
      const value = trigger.event.event.attributes[name];
      if (value !== undefined && value !== null) params[name] = value;
    }
  }
  return params;
}

// Releases a cooldown key only if it still belongs to the given remediation.
const releaseScript = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) else return 0 end`;

/**
 * The decisions of the remediation loop: admission (cooldown, approval gate,
 * dry run), dispatch under the concurrency limits, approvals, expiry and the
 * results agents report. All state lives in the {@link AuditStore}; the
 * cooldown is a Redis key so several schedulers share it.
 */
export class RemediationEngine {
  private readonly store: AuditStore;
  private readonly redis: Redis;
  private readonly keys: RedisKeys;
  private readonly policy: RemediationPolicy;
  private readonly logger: Logger;
  private readonly now: () => number;
  private readonly onFinal: ((record: RemediationRecord) => void) | undefined;
  private readonly jobSigningKey: JobSigningKey | undefined;
  private readonly queues = new Map<string, Queue>();
  private dispatching: Promise<void> | undefined;
  private dispatchAgain = false;

  constructor(options: RemediationEngineOptions) {
    this.store = options.store;
    this.redis = options.redis;
    this.keys = options.keys;
    this.policy = options.policy;
    this.logger = options.logger;
    this.now = options.now ?? Date.now;
    this.onFinal = options.onFinal;
    this.jobSigningKey = options.jobSigningKey;
  }

  /** Admits a matched trigger for one playbook; enqueues when allowed. Safe to call again for a redelivered trigger. */
  async admit(trigger: Trigger, playbook: SchedulablePlaybook): Promise<TriggerOutcome> {
    const id = remediationId(trigger.id, playbook.name, trigger.agentId);
    const existing = this.store.get(id);
    if (existing !== undefined) {
      await this.dispatch();
      return { remediationId: id, playbook: playbook.name, state: this.store.get(id)?.state ?? existing.state, created: false };
    }
    const nowMillis = this.now();
    const dryRun = this.policy.dryRun || playbook.dryRun === true || this.policy.dryRunPlaybooks.includes(playbook.name);
    const cooldownSeconds = playbook.cooldownSeconds ?? this.policy.cooldownSeconds;
    const event = trigger.event.kind === 'anomaly' ? trigger.event.anomaly : trigger.event.event;
    const params = remediationParams(playbook, this.policy.playbookParams?.[playbook.name], trigger);
    const job: RemediationJob = {
      remediationId: id,
      agentId: trigger.agentId,
      playbook: { name: playbook.name, version: playbook.version, fileName: playbook.fileName, source: playbook.source },
      params,
      event,
      dryRun,
      triggeredAtMillis: trigger.triggeredAtMillis,
      enqueuedAtMillis: 0,
    };
    let state: RemediationRecord['state'] = playbook.requiresApproval ? 'pending_approval' : 'waiting';
    let reason: string | undefined;
    if (cooldownSeconds > 0) {
      const key = this.cooldownKey(playbook.name, trigger.agentId);
      const set = await this.redis.set(key, id, 'PX', Math.round(cooldownSeconds * 1000), 'NX');
      if (set !== 'OK') {
        const holder = await this.redis.get(key);
        state = 'skipped_cooldown';
        reason = `cooldown: ${playbook.name} on ${trigger.agentId} already handled by ${holder ?? 'another remediation'} within ${cooldownSeconds} s`;
      }
    }
    const created = this.store.insert({
      id,
      triggerId: trigger.id,
      triggerKind: trigger.event.kind,
      trigger: event,
      triggeredAtMillis: trigger.triggeredAtMillis,
      agentId: trigger.agentId,
      playbook: playbook.name,
      playbookVersion: playbook.version,
      params,
      dryRun,
      state,
      createdAtMillis: nowMillis,
      expiresAtMillis: state === 'pending_approval' ? nowMillis + Math.round(this.policy.approvalTimeoutSeconds * 1000) : null,
      jobPayload: state === 'skipped_cooldown' ? null : JSON.stringify(job),
      ...(reason === undefined ? {} : { reason }),
    });
    this.logger.info({ remediationId: id, playbook: playbook.name, agentId: trigger.agentId, trigger: trigger.id, state, dryRun }, 'remediation admitted');
    if (created && state === 'pending_approval') await this.publish(id);
    if (created && state === 'skipped_cooldown') this.final(id);
    if (state === 'waiting') await this.dispatch();
    return { remediationId: id, playbook: playbook.name, state: this.store.get(id)?.state ?? state, created };
  }

  /** Enqueues waiting remediations while the concurrency limits allow. Serialized: concurrent calls coalesce. */
  async dispatch(): Promise<void> {
    if (this.dispatching !== undefined) {
      this.dispatchAgain = true;
      await this.dispatching;
      return;
    }
    this.dispatching = (async () => {
      do {
        this.dispatchAgain = false;
        await this.dispatchOnce();
      } while (this.dispatchAgain);
    })();
    try {
      await this.dispatching;
    } finally {
      this.dispatching = undefined;
    }
  }

  private async dispatchOnce(): Promise<void> {
    const { total, perAgent } = this.store.activeCounts();
    if (total >= this.policy.maxConcurrent) return;
    const waiting = this.store.waiting();
    if (waiting.length === 0) return;
    let active = total;
    for (const record of waiting) {
      if (active >= this.policy.maxConcurrent) return;
      const onAgent = perAgent.get(record.agentId) ?? 0;
      if (onAgent >= this.policy.maxConcurrentPerAgent) continue;
      const payload = this.store.jobPayload(record.id);
      if (payload === null) continue;
      const job = JSON.parse(payload) as RemediationJob;
      const nowMillis = this.now();
      job.enqueuedAtMillis = nowMillis;
      if (!this.store.markQueued(record.id, record.id, nowMillis)) continue;
      try {
        // A job not started within the result timeout is failed here and removed: the agent may refuse it then too.
        const validForMillis = Math.min(maxJobValidityMillis, Math.round((this.policy.resultTimeoutSeconds ?? 3600) * 1000));
        await this.queue(record.agentId).add(remediationJobName, signRemediationJob(job, this.jobSigningKey, { validForMillis }), {
          jobId: record.id,
          attempts: 1,
          removeOnComplete: { age: 24 * 3600, count: 10_000 },
          removeOnFail: { age: 7 * 24 * 3600 },
        });
      } catch (error) {
        this.store.unmarkQueued(record.id, payload, this.now());
        this.logger.error({ err: error, remediationId: record.id }, 'cannot enqueue the remediation job; will retry');
        return;
      }
      active += 1;
      perAgent.set(record.agentId, onAgent + 1);
      this.logger.info({ remediationId: record.id, agentId: record.agentId, queue: queueNames.agent(record.agentId) }, 'remediation queued');
    }
  }

  approve(id: string, by: string): Promise<DecisionResult> {
    return this.decide(id, (record) => {
      if (!this.store.approve(id, by, this.now())) return false;
      this.logger.info({ remediationId: id, playbook: record.playbook, by }, 'remediation approved');
      return true;
    });
  }

  reject(id: string, by: string, reason: string | null): Promise<DecisionResult> {
    return this.decide(id, (record) => {
      if (!this.store.reject(id, by, reason, this.now())) return false;
      this.logger.info({ remediationId: id, playbook: record.playbook, by }, 'remediation rejected');
      return true;
    });
  }

  private async decide(id: string, change: (record: RemediationRecord) => boolean): Promise<DecisionResult> {
    const record = this.store.get(id);
    if (record === undefined) return { kind: 'not_found' };
    if (!change(record)) return { kind: 'conflict', record: this.store.get(id) ?? record };
    const updated = this.store.get(id) ?? record;
    if (updated.state === 'rejected') {
      await this.releaseCooldown(updated);
      await this.publish(id);
    }
    await this.dispatch();
    return { kind: 'ok', record: this.store.get(id) ?? updated };
  }

  /** Expires approval requests past their deadline. */
  async expire(): Promise<string[]> {
    const expired = this.store.expire(this.now());
    for (const id of expired) {
      const record = this.store.get(id);
      if (record !== undefined) await this.releaseCooldown(record);
      await this.publish(id);
      this.logger.info({ remediationId: id }, 'remediation approval expired');
    }
    return expired;
  }

  /**
   * Fails remediations that got no result within `resultTimeoutSeconds` of being
   * queued, so a dead agent does not hold concurrency slots forever. A job still
   * waiting in the agent's queue is removed; a late result is ignored.
   */
  async timeOutStale(): Promise<string[]> {
    const timeoutMillis = Math.round((this.policy.resultTimeoutSeconds ?? 3600) * 1000);
    const nowMillis = this.now();
    const timedOut: string[] = [];
    for (const record of this.store.staleActive(nowMillis - timeoutMillis)) {
      const message = `no result from agent ${record.agentId} within ${timeoutMillis / 1000} s of being queued (state was ${record.state})`;
      const changed = this.store.finish(record.id, { state: 'failed', attempt: Math.max(1, record.attempts), atMillis: nowMillis, ok: false, message, error: 'SLOTH_ERR_UNREACHABLE: result timeout', durationMillis: null, output: null });
      if (!changed) continue;
      timedOut.push(record.id);
      try {
        await this.queue(record.agentId).remove(record.id);
      } catch (error) {
        this.logger.debug({ err: error, remediationId: record.id }, 'timed-out job could not be removed (it may be running)');
      }
      this.logger.warn({ remediationId: record.id, agentId: record.agentId }, 'remediation timed out without a result');
      await this.publish(record.id);
    }
    if (timedOut.length > 0) await this.dispatch();
    return timedOut;
  }

  /** Applies a progress or result report from an agent. Returns whether it changed the record. */
  async applyReport(report: RemediationReport): Promise<boolean> {
    if (report.state === 'running') return this.store.markRunning(report.remediationId, report.attempt, report.atMillis);
    const changed = this.store.finish(report.remediationId, {
      state: report.state,
      attempt: report.attempt,
      atMillis: report.atMillis,
      ok: report.ok ?? null,
      message: report.message ?? null,
      error: report.error ?? null,
      durationMillis: report.durationMillis ?? null,
      output: { logs: report.logs ?? [], actions: report.actions ?? [] },
    });
    if (changed) {
      this.logger.info({ remediationId: report.remediationId, state: report.state, durationMillis: report.durationMillis }, 'remediation finished');
      // A run refused for its parameters never acted: it must not hold back the next, correctly configured, one.
      if (report.state === 'failed' && report.error?.startsWith('SLOTH_ERR_INPUT: invalid params') === true) {
        const record = this.store.get(report.remediationId);
        if (record !== undefined) await this.releaseCooldown(record);
      }
      await this.publish(report.remediationId);
      await this.dispatch();
    }
    return changed;
  }

  async shutdown(): Promise<void> {
    await this.dispatching;
    await Promise.all([...this.queues.values()].map((q) => q.close()));
    this.queues.clear();
  }

  /**
   * Announces a remediation that needs a human (`pending_approval`) or reached a final
   * state on `sloth:events` (type `remediation`), so alerting can notify about it.
   */
  private async publish(id: string): Promise<void> {
    const record = this.store.get(id);
    if (record === undefined) return;
    this.final(id, record);
    const event: SlothEvent = {
      type: 'remediation',
      agentId: record.agentId,
      timestampMillis: this.now(),
      attributes: {
        remediationId: record.id,
        playbook: record.playbook,
        version: record.playbookVersion,
        state: record.state,
        dryRun: record.dryRun,
        ...(record.message === null ? {} : { message: record.message }),
        ...(record.reason === null ? {} : { reason: record.reason }),
      },
    };
    try {
      await this.redis.xadd(this.keys.events, 'MAXLEN', '~', 100_000, '*', ...encodeJsonMessage(event));
    } catch (error) {
      this.logger.warn({ err: error, remediationId: id }, 'cannot publish the remediation event');
    }
  }

  private final(id: string, record = this.store.get(id)): void {
    if (record === undefined || !finalStates.includes(record.state)) return;
    try {
      this.onFinal?.(record);
    } catch (error) {
      this.logger.warn({ err: error, remediationId: id }, 'recording the finished remediation failed');
    }
  }

  private queue(agentId: string): Queue {
    let queue = this.queues.get(agentId);
    if (queue === undefined) {
      queue = new Queue(queueNames.agent(agentId), { connection: this.redis, prefix: this.keys.queuePrefix });
      queue.on('error', (error) => this.logger.warn({ err: error, agentId }, 'remediation queue error'));
      this.queues.set(agentId, queue);
    }
    return queue;
  }

  private cooldownKey(playbook: string, agentId: string): string {
    return this.keys.key('remediation', 'cooldown', playbook, agentId);
  }

  private async releaseCooldown(record: RemediationRecord): Promise<void> {
    await this.redis.eval(releaseScript, 1, this.cooldownKey(record.playbook, record.agentId), record.id);
  }
}
