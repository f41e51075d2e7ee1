import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { SendResult } from './remote-endpoint.js';
import type { SenderThreadData, SenderThreadReply, SenderThreadRequest } from './sender-thread.js';

/**
 * A remote-write endpoint whose compression and HTTP run in a worker thread
 * (`sender-thread.ts`): the main thread only encodes and hands the bytes
 * over. A thread that dies fails its requests as retryable and is started
 * again on the next send.
 */
export class ThreadEndpoint {
  private worker: Worker | undefined;
  private nextId = 1;
  private readonly pending = new Map<number, (result: SendResult) => void>();

  constructor(private readonly data: SenderThreadData) {}

  /** Sends one encoded (uncompressed) WriteRequest; `encoded` is copied, so the caller may reuse it. */
  async send(encoded: Uint8Array, abort: AbortSignal): Promise<SendResult> {
    if (abort.aborted) return { kind: 'retryable', reason: 'stopping' };
    const worker = this.thread();
    const id = this.nextId++;
    const result = new Promise<SendResult>((resolve) => this.pending.set(id, resolve));
    const onAbort = (): void => worker.postMessage({ kind: 'abort' } satisfies SenderThreadRequest);
    abort.addEventListener('abort', onAbort, { once: true });
    worker.postMessage({ kind: 'send', id, encoded } satisfies SenderThreadRequest);
    try {
      return await result;
    } finally {
      abort.removeEventListener('abort', onAbort);
    }
  }

  async close(): Promise<void> {
    const worker = this.worker;
    this.worker = undefined;
    this.failAll('the sender thread was stopped');
    await worker?.terminate();
  }

  private thread(): Worker {
    if (this.worker !== undefined) return this.worker;
    const worker = spawnSenderThread(this.data);
    worker.on('message', (reply: SenderThreadReply) => {
      const resolve = this.pending.get(reply.id);
      this.pending.delete(reply.id);
      resolve?.(reply.result);
    });
    const lost = (reason: string): void => {
      if (this.worker !== worker) return;
      this.worker = undefined;
      this.failAll(reason);
    };
    worker.on('error', (error) => lost(`the sender thread failed: ${error.message}`));
    worker.on('exit', (code) => lost(`the sender thread exited (code ${code})`));
    // Sending never keeps the collector alive on its own; shutdown closes it.
    worker.unref();
    this.worker = worker;
    return worker;
  }

  private failAll(reason: string): void {
    for (const resolve of this.pending.values()) resolve({ kind: 'retryable', reason });
    this.pending.clear();
  }
}

function spawnSenderThread(workerData: SenderThreadData): Worker {
  const here = import.meta.url;
  // Built JS runs the sibling .js; the test suite runs TypeScript sources through tsx.
  const js = new URL('./sender-thread.js', here);
  if (here.endsWith('.ts') || !existsSync(fileURLToPath(js))) {
    const ts = new URL('./sender-thread.ts', here).href;
    return new Worker(`import('tsx/esm/api').then((tsx) => { tsx.register(); return import(${JSON.stringify(ts)}); })`, { eval: true, workerData });
  }
  return new Worker(js, { workerData });
}
