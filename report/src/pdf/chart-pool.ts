import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { ChartJob } from './chart-specs.js';

interface Pending {
  readonly resolve: (svg: string) => void;
  readonly reject: (error: Error) => void;
}

/**
 * A pool of at most two worker threads that turn Vega-Lite specs into SVG,
 * so chart rendering overlaps the PDF layout on the main thread.
 */
export class ChartPool {
  private readonly workers: Worker[] = [];
  private readonly pending = new Map<number, Pending>();
  private nextId = 0;

  /** @param size worker threads. @defaultValue min(2, available cores) */
  constructor(private readonly size = Math.max(1, Math.min(2, availableParallelism()))) {}

  start(): void {
    for (let i = this.workers.length; i < this.size; i++) this.workers.push(this.spawn());
  }

  /** SVG text of one chart; charts go round-robin over the workers. */
  async render(job: ChartJob): Promise<string> {
    if (this.workers.length === 0) this.start();
    const id = this.nextId++;
    const worker = this.workers[id % this.workers.length] as Worker;
    return await new Promise<string>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      worker.postMessage({ id, job });
    });
  }

  async shutdown(): Promise<void> {
    const workers = this.workers.splice(0);
    await Promise.all(workers.map(async (w) => w.terminate()));
    for (const p of this.pending.values()) p.reject(new Error('chart pool shut down before the chart was rendered'));
    this.pending.clear();
  }

  private spawn(): Worker {
    const here = import.meta.url;
    // Built JS runs the sibling .js; the test suite runs TypeScript sources through tsx.
    const js = new URL('./chart-worker.js', here);
    const worker =
      here.endsWith('.ts') || !existsSync(fileURLToPath(js))
        ? new Worker(`import('tsx/esm/api').then((tsx) => { tsx.register(); return import(${JSON.stringify(new URL('./chart-worker.ts', here).href)}); })`, { eval: true })
        : new Worker(js);
    worker.on('message', (message: { id: number; svg?: string; error?: string }) => {
      const pending = this.pending.get(message.id);
      if (pending === undefined) return;
      this.pending.delete(message.id);
      if (message.svg !== undefined) pending.resolve(message.svg);
      else pending.reject(new Error(`chart rendering failed: ${message.error ?? 'unknown error'}`));
    });
    worker.on('error', (error) => {
      for (const p of this.pending.values()) p.reject(error);
      this.pending.clear();
    });
    return worker;
  }
}
