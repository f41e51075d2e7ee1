import { randomUUID } from 'node:crypto';
import { DelayedError, Queue, Worker, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import { InputError, queueNames, type JobSigningKey, type Logger, type RedisKeys, type RemediationJob } from '@sloth/core';
import type { SchedulablePlaybook } from '../playbook-catalogue.js';
import type { AgentInventory } from '../placement/inventory.js';
import { placeTask, type AgentSnapshot, type PlacementDecision, type PlacementSettings } from '../placement/placer.js';
import type { ReservationLedger, ReservationLimits } from '../placement/reservations.js';
import { AgentQueues } from './agent-queues.js';
import { commandPlaybook } from './command-playbook.js';
import { finalTaskStates, parseTaskSpec, placementRequest, type TaskRecord, type TaskSpec, type TaskState } from './spec.js';
import { pendingStates, waitingScore, waitingSeen, type TaskStore, type WaitingTask } from './task-store.js';

export { placementRequest } from './spec.js';

export interface TaskManagerOptions {
  /** Shared, non-blocking connection for the BullMQ queues (`tasks`, `agent.<id>`). */
  redis: Redis;
  /** A dedicated connection for the BullMQ worker on `tasks`. */
  workerRedis: Redis;
  keys: RedisKeys;
  /** On one Redis: a submit-time placement reserves in the ledger's hashes and stores the record in one script. */
  store: TaskStore;
  ledger: ReservationLedger;
  inventory: AgentInventory;
  placement: PlacementSettings;
  /** argv[0] values a `command` task may run (deny by default). */
  allowedCommands: readonly string[];
  playbooks: () => readonly SchedulablePlaybook[];
  logger: Logger;
  /** A task nothing fits is placed again after this long. @defaultValue 2000 */
  waitRetryMillis?: number;
  /** Tasks placed at once (each placement waits on Redis round trips, so more than the cores). @defaultValue 32 */
  concurrency?: number;
  now?: () => number;
  /** Called after each placement decision: `placed` on an agent (its room reserved), or `no_capacity` (the scheduler's metrics; benchmarks time the stages of a task with it). */
  onPlacement?: ((agentId: string, outcome: 'placed' | 'no_capacity', taskId: string) => void) | undefined;
  /** Signs every run queued for an agent; without it runs go unsigned. */
  jobSigningKey?: JobSigningKey | undefined;
}

/** Most urgent waiting tasks a task checks before taking room: read from Redis, and … */
const waitingLookahead = 64;
/** … of those, the different requests (resources and constraints) placed to see whether they fit (bounds the cost of a look). */
const waitingFitChecks = 16;

/** States in which a task may be placed (it has no run on an agent and is not finished). */
const placeableStates: readonly TaskState[] = ['waiting', ...pendingStates];

/** How long after its run's timeout a task run's signed job may still start (the agent refuses it later as expired). */
const runValidityMarginMillis = 10 * 60_000;

/** A new task's record, as submit stores it before its first placement: queued, no attempts. */
export function newTaskRecord(spec: TaskSpec, submittedBy: string, nowMillis: number): TaskRecord {
  return {
    id: `task-${randomUUID().slice(0, 13)}`,
    spec,
    state: 'queued',
    submittedBy,
    createdAtMillis: nowMillis,
    updatedAtMillis: nowMillis,
    decision: null,
    reason: 'waiting for a placement worker',
    attempts: [],
    avoidAgents: [],
  };
}

/** Outcome of a cancel. */
export type CancelResult = { kind: 'ok'; record: TaskRecord } | { kind: 'not_found' } | { kind: 'conflict'; record: TaskRecord };

/**
 * User tasks: submission onto the BullMQ `tasks` queue (by priority),
 * placement by a worker on that queue, reservation in the ledger, and
 * dispatch as a playbook job on `agent.<id>` (the job kind agents already
 * run). A task nothing fits goes back to the delayed set with the decision
 * that says why. Results, timeouts and lost agents are handled by
 * {@link TaskMonitor}, which calls {@link TaskManager.finishAttempt}.
 */
export class TaskManager {
  private readonly options: TaskManagerOptions;
  private readonly queue: Queue;
  private readonly runs: AgentQueues;
  private worker: Worker | undefined;
  /** Queue-path placements run one at a time, in the order the worker takes them (priority, then age): each look's turn ends when this settles. */
  private placing: Promise<void> = Promise.resolve();

  constructor(options: TaskManagerOptions) {
    this.options = options;
    this.queue = new Queue(queueNames.tasks, { connection: options.redis, prefix: options.keys.queuePrefix });
    this.runs = new AgentQueues(options.redis, options.keys, options.jobSigningKey);
  }

  private now(): number {
    return (this.options.now ?? Date.now)();
  }

  agentQueue(agentId: string): Queue {
    return this.runs.queue(agentId);
  }

  async start(): Promise<void> {
    const worker = new Worker(queueNames.tasks, (job, token) => this.process(job, token), {
      connection: this.options.workerRedis,
      prefix: this.options.keys.queuePrefix,
      concurrency: this.options.concurrency ?? 32,
      autorun: false,
    });
    worker.on('error', (error) => this.options.logger.warn({ err: error }, 'task placement worker error'));
    this.worker = worker;
    void worker.run().catch((error: unknown) => this.options.logger.error({ err: error }, 'task placement worker stopped'));
    await worker.waitUntilReady();
  }

  async shutdown(): Promise<void> {
    await this.worker?.close();
    this.worker = undefined;
    await this.queue.close();
    await this.runs.close();
  }

  /**
   * Validates a submission completely before anything is stored or queued:
   * a malformed spec, an unknown playbook or one that requires approval, a command off the allow-list or a
   * request larger than every known agent is an {@link InputError}.
   */
  async validate(input: unknown): Promise<TaskSpec> {
    const spec = parseTaskSpec(input);
    if (spec.playbook !== undefined) {
      const playbook = this.options.playbooks().find((p) => p.name === spec.playbook);
      if (playbook === undefined) {
        const names = this.options.playbooks().map((p) => p.name);
        throw new InputError(`unknown playbook ${JSON.stringify(spec.playbook)}; the scheduler has ${names.length === 0 ? 'none loaded' : names.join(', ')}`);
      }
      // A playbook that needs a person's approval runs only through the remediation approval gate: a task (any
      // holder of a scheduler token, parameters of its choosing) must not be a way around it.
      if (playbook.requiresApproval) {
        throw new InputError(`playbook ${spec.playbook} requires approval (requires_approval = true): it runs as a remediation once approved (sloth remediation approve), not as a task`);
      }
      const problems = playbook.checkParams?.(spec.params) ?? [];
      if (problems.length > 0) throw new InputError(`invalid task: playbook ${spec.playbook}: ${problems.join('; ')}`, { problems: [...problems] });
    }
    if (spec.command !== undefined && !this.options.allowedCommands.includes(spec.command[0] as string)) {
      throw new InputError(
        `command ${JSON.stringify(spec.command[0])} is not on the scheduler's task allow-list (${this.options.allowedCommands.length === 0 ? 'empty: add it to scheduler.tasks.allowedCommands' : this.options.allowedCommands.join(', ')})`,
      );
    }
    const agents = await this.options.inventory.agents();
    if (agents.length > 0) {
      const largestCpu = Math.max(...agents.map((a) => a.cpuCores));
      const largestMemory = Math.max(...agents.map((a) => a.memoryMb));
      if (spec.resources.cpuCores > largestCpu || spec.resources.memoryMb > largestMemory) {
        throw new InputError(
          `impossible request: ${spec.resources.cpuCores} cpu cores and ${spec.resources.memoryMb} MB, but the largest of ${agents.length} agent${agents.length === 1 ? '' : 's'} has ${largestCpu} cores and ${Math.round(largestMemory)} MB; lower resources or add a larger agent`,
        );
      }
    }
    return spec;
  }

  /**
   * Stores a task and places it: at once when an agent has room for it now (one
   * round trip reserves the room and stores the placed record, a second queues
   * the run on the agent), else through the `tasks` queue by priority, where it
   * waits with its explanation until something fits. Throws {@link InputError}
   * (and queues nothing) on bad input.
   */
  async submit(input: unknown, submittedBy: string): Promise<TaskRecord> {
    const record = newTaskRecord(await this.validate(input), submittedBy, this.now());
    const placed = await this.placeAtSubmit(record);
    if (placed !== undefined) return placed;
    await this.options.store.create(record);
    await this.enqueue(record, 0);
    return record;
  }

  /**
   * The submit-time placement: the cached agent picture, one reservation try. Undefined when
   * the task must go through the queue (nothing fits now, the room was taken, no playbook).
   */
  private async placeAtSubmit(record: TaskRecord): Promise<TaskRecord | undefined> {
    const { inventory, ledger, placement, store } = this.options;
    const playbook = this.playbookOf(record.spec);
    if (playbook === undefined) return undefined;
    const request = placementRequest(record.spec);
    const agents = await inventory.agents();
    const decision = placeTask(request, agents, placement, this.now());
    const agentId = decision.agentId;
    const agent = agentId === null ? undefined : inventory.get(agentId);
    if (agentId === null || agent === undefined) return undefined;
    const nowMillis = this.now();
    const runId = `${record.id}.a1`;
    const placed: TaskRecord = {
      ...record,
      state: 'placed',
      decision,
      reason: decision.explanation,
      attempts: [{ attempt: 1, agentId, runId, placedAtMillis: nowMillis, startedAtMillis: null, finishedAtMillis: null, outcome: null, message: null }],
    };
    const reservation = { taskId: record.id, cpuCores: request.cpuCores, memoryMb: request.memoryMb, atMillis: nowMillis };
    // One script: the record is written only if no task at least as urgent waits (on any scheduler:
    // the waiting set is in Redis) and the reservation was won. While such tasks wait, the new one goes
    // behind them (through the queue) only if one of them fits the room free now: one that fits nowhere
    // would hold it back for nothing. A lost reservation goes through the queue, which looks again.
    const hold = { holdsKey: ledger.holdsKey(agentId), totalsKey: ledger.totalsKey(agentId) };
    const limits = this.limitsOf(agent);
    let outcome = await store.createReserved(placed, hold, reservation, limits, { behindScore: waitingScore(record.spec.priority + 1, 0) });
    if (outcome === 'behind') {
      if (this.firstThatFits(await this.waitingAhead(record.id, record.spec.priority + 1), agents) !== undefined) return undefined;
      outcome = await store.createReserved(placed, hold, reservation, limits);
    }
    if (outcome !== 'ok' && outcome !== 'exists') return undefined;
    inventory.applyReservation(agentId, reservation, 1);
    this.options.onPlacement?.(agentId, 'placed', record.id);
    await this.addRun(placed, agentId, 1, playbook, nowMillis);
    return placed;
  }

  private limitsOf(agent: AgentSnapshot): ReservationLimits {
    return { cpuCores: agent.cpuCores, memoryMb: agent.memoryMb, maxConcurrent: agent.maxConcurrent ?? this.options.placement.maxConcurrentPerAgent };
  }

  private playbookOf(spec: TaskSpec): SchedulablePlaybook | undefined {
    return spec.command !== undefined ? commandPlaybook(spec.command, spec.timeoutSeconds) : this.options.playbooks().find((p) => p.name === spec.playbook);
  }

  /** Queues attempt `attempt` of a task as a playbook job on `agent.<id>` (the job kind agents already run). */
  private async addRun(record: TaskRecord, agentId: string, attempt: number, playbook: SchedulablePlaybook, nowMillis: number): Promise<void> {
    const spec = record.spec;
    const runId = `${record.id}.a${attempt}`;
    const job: RemediationJob = {
      remediationId: runId,
      agentId,
      playbook: { name: playbook.name, version: playbook.version, fileName: playbook.fileName, source: playbook.source },
      params: spec.params,
      event: { kind: 'task', taskId: record.id, attempt, name: spec.name ?? null },
      dryRun: false,
      triggeredAtMillis: record.createdAtMillis,
      enqueuedAtMillis: nowMillis,
    };
    // The task record keeps each run's outcome, so a completed run job is removed at once (keeping the
    // last N costs the agent's completion script a ZADD, a trim and a read per run); failed ones are
    // kept for a week, to look into.
    // Its signature lets it start (or start again, redelivered after an agent restart) until the run's timeout
    // and a margin have passed: by then the task monitor has ended the attempt anyway.
    const validForMillis = spec.timeoutSeconds * 1000 + runValidityMarginMillis;
    await this.runs.add(agentId, job, { jobId: runId, attempts: 1, priority: spec.priority, removeOnComplete: true, removeOnFail: { age: 7 * 24 * 3600 } }, validForMillis);
  }

  private async enqueue(record: TaskRecord, delayMillis: number): Promise<void> {
    await this.queue.add(
      'place',
      { taskId: record.id },
      { jobId: `${record.id}.p${record.attempts.length + 1}`, priority: record.spec.priority, delay: delayMillis, removeOnComplete: true, removeOnFail: { age: 24 * 3600 } },
    );
  }

  /** A dry run of placement: the decision `submit` would make now, reserving nothing. */
  async plan(input: unknown): Promise<PlacementDecision> {
    const spec = await this.validate(input);
    return placeTask(placementRequest(spec), await this.options.inventory.agents(true), this.options.placement, this.now());
  }

  /** The most urgent waiting tasks (of any scheduler, not `taskId`) of a priority below `belowPriority` (more urgent). */
  private async waitingAhead(taskId: string, belowPriority: number): Promise<WaitingTask[]> {
    const waiting = await this.options.store.waitingAhead(waitingScore(belowPriority, 0), waitingLookahead + 1);
    return waiting.filter((w) => w.taskId !== taskId).slice(0, waitingLookahead);
  }

  /**
   * The first of `waiting` that fits the room `agents` show. The caller passes the picture it places its own
   * task on: with a newer picture for one answer than for the other, a run ending in between gives a less
   * urgent task room the more urgent one was just found not to fit.
   */
  private firstThatFits(waiting: readonly WaitingTask[], agents: readonly AgentSnapshot[]): WaitingTask | undefined {
    // Most of a backlog is many tasks of a few kinds, often larger than any room left: a request larger than
    // every agent's free room is skipped without a placement, and one request is placed once.
    let freeCpu = 0;
    let freeMemory = 0;
    for (const agent of agents) {
      freeCpu = Math.max(freeCpu, agent.cpuCores - agent.reservedCpuCores);
      freeMemory = Math.max(freeMemory, agent.memoryMb - agent.reservedMemoryMb);
    }
    const tried = new Set<string>();
    for (const w of waiting) {
      if (w.request.cpuCores > freeCpu + 1e-9 || w.request.memoryMb > freeMemory + 1e-9) continue;
      const kind = `${w.request.cpuCores} ${w.request.memoryMb} ${JSON.stringify(w.request.constraints)}`;
      if (tried.has(kind)) continue;
      if (tried.size === waitingFitChecks) return undefined;
      tried.add(kind);
      if (placeTask(w.request, agents, this.options.placement, this.now()).agentId !== null) return w;
    }
    return undefined;
  }

  private async process(job: Job, token: string | undefined): Promise<void> {
    const taskId = (job.data as { taskId?: unknown }).taskId;
    if (typeof taskId !== 'string') return;
    if (await this.look(taskId)) return;
    // Every waiting task looks again at the same instants (a common grid of `waitRetryMillis`), so when
    // room frees up they compete together, in priority order, not in the order their timers run out.
    // The next instant of the grid: every look of one sweep (all made after its instant) is in the next
    // one, so a task looks every `waitRetryMillis` (rounding now + the period up skipped an instant).
    const retryMillis = this.options.waitRetryMillis ?? 2000;
    await job.moveToDelayed((Math.floor(this.now() / retryMillis) + 1) * retryMillis, token);
    throw new DelayedError();
  }

  /**
   * One look for room: true when the task is placed or no longer needs placing, false when it waits.
   * A task that may fit is placed in its turn, one at a time, in the order the worker handed the jobs
   * over (priority, then age): with several placing at once a less urgent task could reserve the room
   * a more urgent one, taken just before it, was about to. A task that fits nowhere on the cached
   * agent picture records so without waiting for its turn: it takes no room, and the placements ahead
   * of it only take more, so its turn could not change the answer; a sweep of thousands of waiting
   * tasks then does not hold back, one by one, a task that fits. A waiting task's look starts from its
   * small entry in the waiting set, not its record: when nothing fits and the record already says so,
   * no record is read or written (only the time of the look).
   */
  private async look(taskId: string): Promise<boolean> {
    // The turn is taken now, before any await, so the placements keep the worker's order.
    const ahead = this.placing;
    let lookDone: () => void = () => undefined;
    const looked = new Promise<void>((resolve) => {
      lookDone = resolve;
    });
    this.placing = ahead.then(() => looked);
    try {
      const found = await this.lookWithoutTurn(taskId);
      if (typeof found === 'boolean') return found;
      await ahead;
      return await this.placeInTurn(found);
    } finally {
      lookDone();
    }
  }

  /** The part of a look that needs no turn: the outcome when the task is done or waits, else its record (it may fit). */
  private async lookWithoutTurn(taskId: string): Promise<boolean | TaskRecord> {
    const { inventory, placement, store } = this.options;
    const entry = await store.waitingEntry(taskId);
    if (entry !== undefined) {
      const decision = placeTask(entry.request, await inventory.agents(), placement, this.now());
      if (decision.agentId === null) {
        if (entry.seen === waitingSeen(this.noRoomReason(decision), JSON.stringify(decision))) {
          this.options.onPlacement?.('', 'no_capacity', taskId);
          await store.touchWaiting(taskId, this.now());
        } else await this.recordNoRoom(taskId, decision);
        return false;
      }
    }
    const record = await store.get(taskId);
    if (record === undefined || !placeableStates.includes(record.state)) return true;
    const decision = placeTask(placementRequest(record.spec, record.avoidAgents), await inventory.agents(), placement, this.now());
    if (decision.agentId !== null) return record;
    await this.recordNoRoom(taskId, decision);
    return false;
  }

  /**
   * Places a task that may fit, in its turn, and dispatches it: it gives way while a more urgent waiting task
   * (of any scheduler) fits the room free now, judged on the picture it would be placed on. False (with the
   * decision recorded) when it gave way or nothing fits.
   */
  private async placeInTurn(record: TaskRecord): Promise<boolean> {
    const { inventory, ledger, placement } = this.options;
    const request = placementRequest(record.spec, record.avoidAgents);
    const waiting = await this.waitingAhead(record.id, record.spec.priority);
    let decision: PlacementDecision | undefined;
    for (let tries = 0; tries < 3; tries += 1) {
      const agents = await inventory.agents(tries > 0);
      const ahead = this.firstThatFits(waiting, agents);
      if (ahead !== undefined) {
        await this.giveWay(record.id, ahead);
        return false;
      }
      decision = placeTask(request, agents, placement, this.now());
      const agentId = decision.agentId;
      if (agentId === null) break;
      const agent = inventory.get(agentId);
      if (agent === undefined) continue;
      const reservation = { taskId: record.id, cpuCores: request.cpuCores, memoryMb: request.memoryMb, atMillis: this.now() };
      const outcome = await ledger.reserve(agentId, reservation, this.limitsOf(agent));
      if (outcome !== 'ok' && outcome !== 'exists') continue; // another scheduler took the room: look again
      if (outcome === 'ok') inventory.applyReservation(agentId, reservation, 1);
      await this.dispatch(record, agentId, decision);
      this.options.onPlacement?.(agentId, 'placed', record.id);
      return true;
    }
    await this.recordNoRoom(record.id, decision);
    return false;
  }

  /** Room came free while this round of waiting tasks was being placed: the more urgent task `ahead` takes it at its next look. */
  private async giveWay(taskId: string, ahead: WaitingTask): Promise<void> {
    await this.options.store.update(taskId, (r) => {
      if (finalTaskStates.includes(r.state)) return false;
      r.state = 'waiting';
      r.reason = `waiting behind task ${ahead.taskId} (priority ${ahead.priority}, more urgent), which fits the room free now`;
      r.updatedAtMillis = this.now();
    });
  }

  /**
   * Finds tasks whose placement job may be gone, on every scheduler, and gives it back: waiting tasks that
   * have not looked for room for three retry periods (a lost job would leave their entry holding less urgent
   * tasks back for ever), and queued or retrying tasks not found with a live job for as long (a scheduler
   * that died between storing a task and queuing its job, or a lost job, would leave them so for ever).
   * A leftover entry of a task in neither case is dropped. The task service runs it every second; one call
   * checks at most 100 tasks of each kind.
   */
  async checkPlacementJobs(): Promise<{ requeued: number; dropped: number }> {
    const { store } = this.options;
    const nowMillis = this.now();
    const before = nowMillis - 3 * (this.options.waitRetryMillis ?? 2000);
    const waiting = await this.repairPlacementJobs(await store.waitingNotLookedSince(before, 100), ['waiting'], (id) => store.dropWaiting(id), (id) => store.touchWaiting(id, nowMillis));
    const pending = await this.repairPlacementJobs(await store.pendingNotCheckedSince(before, 100), pendingStates, (id) => store.dropPending(id), (id) => store.touchPending(id, nowMillis));
    const requeued = waiting.requeued + pending.requeued;
    if (requeued > 0) this.options.logger.warn({ requeued, waiting: waiting.requeued, pending: pending.requeued }, 'tasks had lost their placement job: queued again');
    return { requeued, dropped: waiting.dropped + pending.dropped };
  }

  /** For each task of `taskIds` still in one of `states`: queues its placement job again if it is gone or failed, then `touch`es it; `drop`s the entries of the others. */
  private async repairPlacementJobs(
    taskIds: readonly string[],
    states: readonly TaskState[],
    drop: (taskId: string) => Promise<boolean>,
    touch: (taskId: string) => Promise<void>,
  ): Promise<{ requeued: number; dropped: number }> {
    let requeued = 0;
    let dropped = 0;
    for (const taskId of taskIds) {
      const record = await this.options.store.get(taskId);
      if (record === undefined || !states.includes(record.state)) {
        if (await drop(taskId)) dropped += 1;
        continue;
      }
      const job = await this.queue.getJob(`${taskId}.p${record.attempts.length + 1}`);
      const state = job === undefined ? 'missing' : await job.getState();
      if (state === 'missing' || state === 'unknown' || state === 'completed') {
        await this.enqueue(record, 0);
        requeued += 1;
      } else if (state === 'failed') {
        await job?.retry('failed');
        requeued += 1;
      }
      // Alive (or given its job back): not checked again for three periods, unless it looks before.
      await touch(taskId);
    }
    return { requeued, dropped };
  }

  /** Why a task waits, from the decision that found no room for it (undefined: every agent it was placed on was taken first). */
  private noRoomReason(decision: PlacementDecision | undefined): string {
    const { lastError } = this.options.inventory;
    return decision === undefined ? 'no agent could be reserved' : lastError === undefined ? decision.explanation : `${decision.explanation}; agent inventory is stale: ${lastError}`;
  }

  /** Records that a task waits, with the decision that found no room for it (see {@link noRoomReason}). */
  private async recordNoRoom(taskId: string, decision: PlacementDecision | undefined): Promise<void> {
    this.options.onPlacement?.('', 'no_capacity', taskId);
    const reason = this.noRoomReason(decision);
    await this.options.store.update(taskId, (r) => {
      if (finalTaskStates.includes(r.state)) return false;
      r.state = 'waiting';
      r.decision = decision ?? null;
      r.reason = reason;
      r.updatedAtMillis = this.now();
    });
  }

  private async dispatch(record: TaskRecord, agentId: string, decision: PlacementDecision): Promise<void> {
    const attempt = record.attempts.length + 1;
    const runId = `${record.id}.a${attempt}`;
    const nowMillis = this.now();
    const spec = record.spec;
    const playbook = this.playbookOf(spec);
    if (playbook === undefined) {
      await this.options.ledger.release(agentId, record.id);
      await this.options.store.update(record.id, (r) => {
        r.state = 'failed';
        r.reason = `playbook ${spec.playbook ?? ''} is no longer loaded by this scheduler`;
        r.updatedAtMillis = nowMillis;
      });
      return;
    }
    // Whether a run of the task on this agent holds the reservation (then a refused placement must not free it).
    let runHoldsRoom = false;
    const saved = await this.options.store.update(record.id, (r) => {
      // Only the look that read this very record places it: a second placement job for the task (one the
      // check gave back while the first was being handled) finds the attempt already added, or the task placed.
      if (!placeableStates.includes(r.state) || r.attempts.length !== record.attempts.length) {
        runHoldsRoom = r.attempts.some((a) => a.outcome === null && a.agentId === agentId);
        return false;
      }
      r.state = 'placed';
      r.decision = decision;
      r.reason = decision.explanation;
      r.updatedAtMillis = nowMillis;
      r.attempts.push({ attempt, agentId, runId, placedAtMillis: nowMillis, startedAtMillis: null, finishedAtMillis: null, outcome: null, message: null });
    });
    if (saved === undefined) {
      // The reservation (one per task and agent) is this run's own only if no run of the task holds it.
      if (!runHoldsRoom) await this.options.ledger.release(agentId, record.id);
      return;
    }
    await this.addRun(saved, agentId, attempt, playbook, nowMillis);
  }

  /**
   * Ends the current attempt of a task (result, timeout, lost agent), frees
   * its reservation and retries when the task allows it. A lost agent does not
   * use up a retry. `startedAtMillis`: when the run started, if its `running` report was not applied
   * on its own (it came with the result). Returns the updated record.
   */
  async finishAttempt(taskId: string, runId: string, outcome: NonNullable<TaskRecord['attempts'][number]['outcome']>, message: string, startedAtMillis?: number): Promise<TaskRecord | undefined> {
    const nowMillis = this.now();
    let retryDelay: number | undefined;
    let agentId: string | undefined;
    const { ledger, store } = this.options;
    // The attempt's end and the release of its reservation are one write.
    const { record, released } = await store.updateReleasing(
      taskId,
      (r) => {
        const attempt = r.attempts.find((a) => a.runId === runId);
        if (attempt === undefined || attempt.outcome !== null) return false;
        attempt.outcome = outcome;
        attempt.message = message;
        attempt.finishedAtMillis = nowMillis;
        if (attempt.startedAtMillis === null && startedAtMillis !== undefined) attempt.startedAtMillis = startedAtMillis;
        agentId = attempt.agentId;
        r.updatedAtMillis = nowMillis;
        if (r.state === 'cancelled') return;
        // A command's result message carries the end of its output after its first line: the reason is that line.
        const summary = message.split('\n', 1)[0] ?? message;
        if (outcome === 'succeeded') {
          r.state = 'succeeded';
          r.reason = summary;
          return;
        }
        const failures = r.attempts.filter((a) => a.outcome === 'failed' || a.outcome === 'timed-out').length;
        if (!r.avoidAgents.includes(attempt.agentId)) r.avoidAgents.push(attempt.agentId);
        if (outcome === 'agent-down') {
          r.state = 'retrying';
          r.reason = `agent ${attempt.agentId} went down: re-queued for another agent`;
          retryDelay = 0;
        } else if (failures <= r.spec.retries.attempts) {
          retryDelay = r.spec.retries.backoffSeconds * 1000 * 2 ** (failures - 1);
          r.state = 'retrying';
          r.reason = `attempt ${attempt.attempt} ${outcome} (${summary}); retry ${failures} of ${r.spec.retries.attempts} in ${retryDelay / 1000} s, preferring another agent`;
        } else {
          r.state = 'failed';
          r.reason = `attempt ${attempt.attempt} ${outcome}: ${summary}`;
        }
      },
      () => (agentId === undefined ? undefined : { holdsKey: ledger.holdsKey(agentId), totalsKey: ledger.totalsKey(agentId) }),
    );
    if (released && agentId !== undefined) {
      this.options.inventory.applyReservation(agentId, { taskId, cpuCores: record?.spec.resources.cpuCores ?? 0, memoryMb: record?.spec.resources.memoryMb ?? 0, atMillis: 0 }, -1);
    }
    if (record !== undefined && retryDelay !== undefined) await this.enqueue(record, retryDelay);
    return record;
  }

  /** Cancels a task. Queued and waiting tasks never run; a run already on an agent finishes there and its result is ignored. */
  async cancel(taskId: string, by: string): Promise<CancelResult> {
    const existing = await this.options.store.get(taskId);
    if (existing === undefined) return { kind: 'not_found' };
    if (finalTaskStates.includes(existing.state)) return { kind: 'conflict', record: existing };
    let pendingRun: { runId: string; agentId: string } | undefined;
    const record = await this.options.store.update(taskId, (r) => {
      if (finalTaskStates.includes(r.state)) return false;
      const current = r.attempts.find((a) => a.outcome === null);
      pendingRun = current === undefined ? undefined : { runId: current.runId, agentId: current.agentId };
      r.reason = `cancelled by ${by}${r.state === 'running' ? ' while running: the run finishes on its agent (its room stays reserved until then) and its result is ignored' : ''}`;
      r.state = 'cancelled';
      r.updatedAtMillis = this.now();
    });
    if (record === undefined) return { kind: 'conflict', record: (await this.options.store.get(taskId)) ?? existing };
    // The placement job, if still queued, would find the task cancelled and skip it; removing it just tidies up.
    await this.queue.remove(`${taskId}.p${existing.attempts.length + 1}`).catch(() => 0);
    if (pendingRun !== undefined) {
      const job = await this.agentQueue(pendingRun.agentId).getJob(pendingRun.runId);
      const state = await job?.getState();
      if (job !== undefined && (state === 'waiting' || state === 'prioritized' || state === 'delayed')) {
        await job.remove().catch(() => undefined);
        await this.finishAttempt(taskId, pendingRun.runId, 'cancelled', `cancelled by ${by} before it started`);
      }
    }
    return { kind: 'ok', record: (await this.options.store.get(taskId)) ?? record };
  }
}
