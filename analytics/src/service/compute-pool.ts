import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { Logger } from '@sloth/core';
import { checkDutyCycle, Pacer } from '../pacer.js';
import { runComputeTask, type ComputeResult, type ComputeTask } from './compute-tasks.js';

interface Pending {
  resolve: (value: unknown) => void;
  reject: (error: Error) => void;
  task: ComputeTask;
}

interface Slot {
  worker: Worker;
  busy: Pending & { id: number } | undefined;
}

/**
 * A small pool of `worker_threads` that train detector models and compute
 * forecasts, so TensorFlow.js never blocks scoring on the main thread. With
 * `threads: 0` tasks run inline (for tiny deployments and debugging).
 * A worker that dies fails its task and is replaced. Every task is paced at `dutyCycle` of a core
 * in fine slices ({@link Pacer}); {@link hurry} lifts the pacing for good (shutdown).
 */
export class ComputePool {
  readonly threads: number;
  private readonly logger: Logger;
  private readonly slots: Slot[] = [];
  private readonly waiting: Pending[] = [];
  private nextId = 1;
  private closed = false;
  private tasksDone = 0;
  private readonly dutyCycle: number;
  private readonly rested: (millis: number) => void;
  private readonly restStarted: () => void;
  private hurried = false;
  private readonly inlinePacers = new Set<Pacer>();

  /**
   * `dutyCycle`: share of one core each thread's tasks may use (1: unpaced); `restStarted` hears each
   * rest begin, `rested` each task's total rest when it ends.
   */
  constructor(options: { threads: number; logger: Logger; dutyCycle?: number; rested?: (millis: number) => void; restStarted?: () => void }) {
    this.threads = options.threads;
    this.logger = options.logger;
    this.dutyCycle = options.dutyCycle ?? 1;
    checkDutyCycle(this.dutyCycle, 'compute pool duty cycle');
    this.rested = options.rested ?? (() => undefined);
    this.restStarted = options.restStarted ?? (() => undefined);
  }

  start(): void {
    for (let i = 0; i < this.threads; i += 1) this.slots.push({ worker: this.spawn(), busy: undefined });
  }

  /** Tasks completed (ok or failed). */
  get completed(): number {
    return this.tasksDone;
  }

  /** Tasks queued or running. */
  get backlog(): number {
    return this.waiting.length + this.slots.filter((s) => s.busy !== undefined).length;
  }

  async run<T extends ComputeTask>(task: T): Promise<ComputeResult<T>> {
    if (this.closed) throw new Error('compute pool is shut down');
    if (this.threads === 0) {
      const pacer = new Pacer(this.hurried ? 1 : this.dutyCycle, { onRest: () => this.restStarted() });
      this.inlinePacers.add(pacer);
      try {
        return (await runComputeTask(task, pacer)) as ComputeResult<T>;
      } finally {
        await pacer.finish();
        this.inlinePacers.delete(pacer);
        this.rested(pacer.restedMillis);
        this.tasksDone += 1;
      }
    }
    return await new Promise<ComputeResult<T>>((resolve, reject) => {
      this.waiting.push({ resolve: resolve as (value: unknown) => void, reject, task });
      this.dispatch();
    });
  }

  /** Ends every rest now and paces nothing from here on: work in flight finishes at full speed. */
  hurry(): void {
    this.hurried = true;
    for (const pacer of this.inlinePacers) pacer.hurry();
    for (const slot of this.slots) slot.worker.postMessage({ hurry: true });
  }

  async shutdown(): Promise<void> {
    this.hurry();
    this.closed = true;
    for (const p of this.waiting.splice(0)) p.reject(new Error('compute pool shut down before the task ran'));
    await Promise.all(this.slots.map(async (s) => await s.worker.terminate()));
    this.slots.length = 0;
  }

  private dispatch(): void {
    for (const slot of this.slots) {
      if (slot.busy !== undefined) continue;
      const next = this.waiting.shift();
      if (next === undefined) return;
      const id = this.nextId++;
      slot.busy = { ...next, id };
      slot.worker.postMessage({ id, task: next.task, dutyCycle: this.hurried ? 1 : this.dutyCycle });
    }
  }

  private spawn(): Worker {
    const here = import.meta.url;
    // Built JS runs the sibling .js; the test suite runs TypeScript sources through tsx.
    const js = new URL('./compute-worker.js', here);
    const worker = here.endsWith('.ts') || !existsSync(fileURLToPath(js))
      ? new Worker(
          `import('tsx/esm/api').then((tsx) => { tsx.register(); return import(${JSON.stringify(new URL('./compute-worker.ts', here).href)}); })`,
          { eval: true },
        )
      : new Worker(js);
    worker.unref();
    worker.on('message', (message: { id: number; ok: boolean; result?: unknown; error?: { message: string; stack?: string }; restedMillis?: number; resting?: true }) => {
      const slot = this.slots.find((s) => s.worker === worker);
      const busy = slot?.busy;
      if (slot === undefined || busy === undefined || busy.id !== message.id) return;
      if (message.resting === true) {
        this.restStarted();
        return;
      }
      this.rested(message.restedMillis ?? 0);
      slot.busy = undefined;
      this.tasksDone += 1;
      if (message.ok) busy.resolve(message.result);
      else {
        const error = new Error(message.error?.message ?? 'compute task failed');
        if (message.error?.stack !== undefined) error.stack = message.error.stack;
        busy.reject(error);
      }
      this.dispatch();
    });
    const onDeath = (error: Error): void => {
      const index = this.slots.findIndex((s) => s.worker === worker);
      if (index < 0) return;
      const slot = this.slots[index] as Slot;
      if (slot.busy !== undefined) {
        this.tasksDone += 1;
        slot.busy.reject(error);
      }
      if (this.closed) return;
      this.logger.warn({ err: error }, 'compute worker thread died; starting a new one');
      this.slots[index] = { worker: this.spawn(), busy: undefined };
      this.dispatch();
    };
    worker.on('error', onDeath);
    worker.on('exit', (code) => {
      if (!this.closed) onDeath(new Error(`compute worker thread exited with code ${code}`));
    });
    return worker;
  }
}
