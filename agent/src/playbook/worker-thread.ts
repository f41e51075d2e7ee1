import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { MessageChannel, Worker, type MessagePort, type ResourceLimits } from 'node:worker_threads';
import { defaultPlaybookLimits } from './sandbox-job.js';
import type { PlaybookWorkerInit, WorkerToHost } from './worker.js';

/** One playbook worker thread and the channels the runtime talks to it through. */
export interface PlaybookWorkerThread {
  worker: Worker;
  /** One Int32 cell: the host sets it to 1 after posting a reply. */
  signal: Int32Array;
  /** Where the host posts replies to the worker's synchronous calls. */
  replyPort: MessagePort;
  /** Resolves once the worker has compiled the Lua VM and holds a spare engine; rejects if it fails or exits first. */
  ready: Promise<void>;
}

function workerSource(): { url: URL } | { code: string } {
  const js = new URL('./worker.js', import.meta.url);
  if (existsSync(fileURLToPath(js))) return { url: js };
  // Running from TypeScript sources (tests): register tsx in the worker, then load the worker module.
  const tsxApi = pathToFileURL(join(dirname(createRequire(import.meta.url).resolve('tsx/package.json')), 'dist', 'esm', 'api', 'index.mjs')).href;
  const ts = new URL('./worker.ts', import.meta.url).href;
  return { code: `import(${JSON.stringify(tsxApi)}).then((tsx) => { tsx.register(); return import(${JSON.stringify(ts)}); });` };
}

/**
 * JS heap of one worker thread, in MB. The Lua state lives in WebAssembly memory outside it (capped by
 * `maxMemoryBytes`); this caps what the JS side of the worker allocates (values converted from Lua), so
 * a runaway there ends the worker (ERR_WORKER_OUT_OF_MEMORY) instead of growing the agent.
 */
export const defaultWorkerHeapMb = 256;

/** Starts a worker thread; it does not keep the process alive while idle. */
export function spawnPlaybookWorker(graceMillis: number = defaultPlaybookLimits.hardKillGraceMillis, heapMb: number = defaultWorkerHeapMb): PlaybookWorkerThread {
  const source = workerSource();
  const signal = new Int32Array(new SharedArrayBuffer(4));
  const channel = new MessageChannel();
  const init: PlaybookWorkerInit = { signalBuffer: signal.buffer, replyPort: channel.port2, graceMillis };
  const resourceLimits: ResourceLimits = { maxOldGenerationSizeMb: heapMb, maxYoungGenerationSizeMb: Math.min(32, Math.max(4, Math.floor(heapMb / 8))) };
  const options = { workerData: init, transferList: [channel.port2], resourceLimits };
  const worker = 'url' in source ? new Worker(source.url, options) : new Worker(source.code, { ...options, eval: true });
  worker.unref();
  channel.port1.unref();
  // Listen from the first moment: the worker may be ready before a runtime takes it over.
  const ready = new Promise<void>((resolve, reject) => {
    const onMessage = (message: WorkerToHost): void => {
      if (message.type !== 'ready') return;
      settle();
      resolve();
    };
    const onError = (error: Error): void => {
      settle();
      reject(error);
    };
    const onExit = (): void => {
      settle();
      reject(new Error('playbook worker exited before it was ready'));
    };
    const settle = (): void => {
      worker.off('message', onMessage);
      worker.off('error', onError);
      worker.off('exit', onExit);
    };
    worker.on('message', onMessage);
    worker.on('error', onError);
    worker.on('exit', onExit);
  });
  ready.catch(() => undefined);
  return { worker, signal, replyPort: channel.port1, ready };
}

let prestarted: PlaybookWorkerThread | undefined;

/**
 * Starts one worker thread now, for the next {@link PlaybookRuntime} in this
 * process to take over. A one-shot command (`sloth playbook run`) calls it
 * before it loads the rest of its code, so that loading and the thread's
 * start (Node bootstrap, wasmoon, compiling the Lua VM) run side by side.
 */
export function prestartPlaybookWorker(): void {
  prestarted ??= spawnPlaybookWorker();
}

/** The prestarted worker thread, once; undefined if there is none. */
export function takePrestartedWorker(): PlaybookWorkerThread | undefined {
  const thread = prestarted;
  prestarted = undefined;
  return thread;
}
