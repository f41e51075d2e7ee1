import { availableParallelism } from 'node:os';
import type { MessagePort, Worker } from 'node:worker_threads';
import { SlothError } from '@sloth/core/errors';
import { handleCall, handleNotify, type RunSession } from './host-calls.js';
import { defaultPlaybookLimits, limitMessage, nowMillis, type HostReply, type SandboxJob, type SandboxOutcome } from './sandbox-job.js';
import type { HostToWorker, WorkerToHost } from './worker.js';
import { defaultWorkerHeapMb, spawnPlaybookWorker, takePrestartedWorker } from './worker-thread.js';

export { defaultPlaybookLimits };

export interface PlaybookRuntimeOptions {
  /** Worker threads kept warm. @defaultValue min(2, available parallelism) */
  workers?: number;
  /** JS heap of each worker thread (`resourceLimits.maxOldGenerationSizeMb`); a run that outgrows it ends with the `memory` limit. @defaultValue 256 */
  workerHeapMb?: number;
}

interface PendingJob {
  job: SandboxJob;
  session: RunSession | undefined;
  resolve: (outcome: SandboxOutcome) => void;
}

interface Slot {
  worker: Worker;
  signal: Int32Array;
  replyPort: MessagePort;
  ready: Promise<void>;
  isReady: boolean;
  current: { id: number; pending: PendingJob; timer: NodeJS.Timeout; deadlineMillis: number } | undefined;
}

/**
 * A warm pool of worker threads, each holding a compiled Lua VM and a spare
 * sandbox. A job runs on one worker; host calls come back here. A worker
 * stuck past its run's hard deadline is terminated and replaced, so the
 * host process and other runs are unaffected.
 */
export class PlaybookRuntime {
  private readonly size: number;
  private readonly workerHeapMb: number;
  private slots: Slot[] = [];
  private readonly queue: PendingJob[] = [];
  private nextJobId = 1;
  private started = false;
  private stopping = false;

  constructor(options: PlaybookRuntimeOptions = {}) {
    this.size = Math.max(1, options.workers ?? Math.min(2, availableParallelism()));
    this.workerHeapMb = options.workerHeapMb ?? defaultWorkerHeapMb;
  }

  async start(): Promise<void> {
    if (this.started) return;
    this.started = true;
    this.stopping = false;
    this.slots = Array.from({ length: this.size }, () => this.spawn());
    try {
      await Promise.all(this.slots.map((slot) => slot.ready));
    } catch (error) {
      await this.shutdown();
      throw new SlothError('SLOTH_ERR_INTERNAL', `the playbook runtime could not start its worker threads: ${(error as Error).message}`);
    }
  }

  async shutdown(): Promise<void> {
    this.stopping = true;
    this.started = false;
    for (const pending of this.queue.splice(0)) pending.resolve(internal('the playbook runtime is shutting down'));
    const slots = this.slots;
    this.slots = [];
    await Promise.all(
      slots.map(async (slot) => {
        if (slot.current !== undefined) {
          clearTimeout(slot.current.timer);
          slot.current.pending.session?.abort.abort();
          slot.current.pending.resolve(internal('the playbook runtime shut down during the run'));
          slot.current = undefined;
        }
        slot.replyPort.close();
        await slot.worker.terminate();
      }),
    );
  }

  /** Runs one sandbox job; resolves with its outcome (never rejects for playbook faults). */
  async execute(job: SandboxJob, session?: RunSession): Promise<SandboxOutcome> {
    if (!this.started) await this.start();
    return new Promise<SandboxOutcome>((resolve) => {
      this.queue.push({ job, session, resolve });
      this.pump();
    });
  }

  private spawn(): Slot {
    // A one-shot command may have started a worker thread before it loaded this module: take it over.
    // (A prestarted worker has the default heap: only take it when that is the heap asked for.)
    const thread = (this.workerHeapMb === defaultWorkerHeapMb ? takePrestartedWorker() : undefined) ?? spawnPlaybookWorker(defaultPlaybookLimits.hardKillGraceMillis, this.workerHeapMb);
    const { worker, signal, replyPort } = thread;
    const slot: Slot = {
      worker,
      signal,
      replyPort,
      ready: thread.ready.then(() => {
        slot.isReady = true;
        this.pump();
      }),
      isReady: false,
      current: undefined,
    };
    slot.ready.catch(() => undefined);
    worker.on('message', (message: WorkerToHost) => this.onMessage(slot, message));
    worker.on('error', (error) => this.retire(slot, workerError(error, this.workerHeapMb)));
    worker.on('exit', () => this.retire(slot, internal('playbook worker exited during the run')));
    return slot;
  }

  private onMessage(slot: Slot, message: WorkerToHost): void {
    if (message.type === 'ready') return;
    const current = slot.current;
    if (current === undefined || message.jobId !== current.id) return;
    switch (message.type) {
      case 'notify':
        if (current.pending.session !== undefined) handleNotify(current.pending.session, message.method, message.args, message.timestampMillis);
        break;
      case 'call':
        void this.answer(slot, current.pending.session, current.deadlineMillis, message.seq, message.method, message.args);
        break;
      case 'done':
        this.finish(slot, message.outcome);
        // WebAssembly memory never shrinks: after a memory bomb, give the memory back by replacing the worker.
        if (message.outcome.limit === 'memory') this.replace(slot);
        break;
      case 'failed':
        // The VM may be in a bad state: finish the job, then replace the worker.
        this.finish(slot, internal(`playbook worker error: ${message.message}`));
        this.replace(slot);
        break;
    }
  }

  private async answer(slot: Slot, session: RunSession | undefined, deadlineMillis: number, seq: number, method: string, args: unknown[]): Promise<void> {
    let reply: HostReply;
    if (session === undefined) {
      reply = { ok: false, err: `${method} is not available while a playbook file is being loaded` };
    } else {
      let timer: NodeJS.Timeout | undefined;
      const expired = new Promise<HostReply>((resolve) => {
        timer = setTimeout(() => resolve({ ok: false, err: `${method} did not finish before the run's deadline`, stop: 'timeout' }), Math.max(0, deadlineMillis - nowMillis()));
      });
      reply = await Promise.race([handleCall(session, method, args), expired]);
      clearTimeout(timer);
    }
    try {
      slot.replyPort.postMessage({ seq, reply: JSON.parse(JSON.stringify(reply)) as HostReply });
    } catch {
      slot.replyPort.postMessage({ seq, reply: { ok: false, err: `${method} returned a value that cannot be passed to Lua` } });
    }
    Atomics.store(slot.signal, 0, 1);
    Atomics.notify(slot.signal, 0);
  }

  private pump(): void {
    if (this.stopping) return;
    for (const slot of this.slots) {
      if (this.queue.length === 0) return;
      if (slot.current !== undefined) continue;
      // A slot whose worker has not said 'ready' yet gets the job later, from its 'ready' message.
      if (!slot.isReady) continue;
      const pending = this.queue.shift();
      if (pending === undefined) return;
      const id = this.nextJobId++;
      const limits = pending.job.limits;
      const deadlineMillis = nowMillis() + limits.timeoutMillis;
      const timer = setTimeout(() => this.hardKill(slot, id), limits.timeoutMillis + limits.hardKillGraceMillis);
      slot.current = { id, pending, timer, deadlineMillis };
      slot.worker.ref();
      slot.worker.postMessage({ type: 'job', jobId: id, job: pending.job } satisfies HostToWorker);
    }
  }

  private hardKill(slot: Slot, id: number): void {
    const current = slot.current;
    if (current === undefined || current.id !== id) return;
    this.finish(slot, {
      status: 'limit',
      limit: 'timeout',
      message: `${limitMessage('timeout', current.pending.job.limits)}; it was blocked outside the Lua VM, so its worker thread was terminated`,
      chunkStartMillis: nowMillis(),
      instructions: 0,
      droppedLogs: 0,
    });
    this.replace(slot);
  }

  private finish(slot: Slot, outcome: SandboxOutcome): void {
    const current = slot.current;
    if (current === undefined) return;
    clearTimeout(current.timer);
    slot.current = undefined;
    slot.worker.unref();
    current.pending.session?.abort.abort();
    current.pending.resolve(outcome);
    this.pump();
  }

  /** A worker died or was killed: fail its job and put a fresh worker in its place. */
  private retire(slot: Slot, outcome: SandboxOutcome): void {
    if (!this.slots.includes(slot)) return;
    if (!slot.isReady) {
      // A worker that never started would fail again: drop it instead of respawning in a loop.
      this.slots.splice(this.slots.indexOf(slot), 1);
      if (this.slots.length === 0) {
        this.started = false;
        for (const pending of this.queue.splice(0)) pending.resolve(internal(`playbook worker failed to start (${outcome.message})`));
      }
      return;
    }
    this.finish(slot, outcome);
    this.replace(slot);
  }

  private replace(slot: Slot): void {
    const index = this.slots.indexOf(slot);
    if (index < 0 || this.stopping) return;
    this.slots.splice(index, 1);
    slot.current = undefined;
    slot.replyPort.close();
    slot.worker.removeAllListeners('exit');
    slot.worker.on('exit', () => undefined);
    void slot.worker.terminate();
    this.slots.push(this.spawn());
  }
}

/** A worker that ran out of JS heap ends its run with the `memory` limit; any other error is internal. */
function workerError(error: Error, heapMb: number): SandboxOutcome {
  if ((error as NodeJS.ErrnoException).code === 'ERR_WORKER_OUT_OF_MEMORY') {
    return {
      status: 'limit',
      limit: 'memory',
      message: `playbook stopped: its worker thread ran out of JS heap (limit ${heapMb} MB, converting values between Lua and the host) and was terminated`,
      chunkStartMillis: nowMillis(),
      instructions: 0,
      droppedLogs: 0,
    };
  }
  return internal(`playbook worker failed: ${error.message}`);
}

function internal(message: string): SandboxOutcome {
  return { status: 'internal', message, chunkStartMillis: nowMillis(), instructions: 0, droppedLogs: 0 };
}
