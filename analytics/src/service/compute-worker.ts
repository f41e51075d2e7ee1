import { parentPort } from 'node:worker_threads';
import { Pacer } from '../pacer.js';
import { runComputeTask, type ComputeTask } from './compute-tasks.js';

/**
 * Entry point of a compute worker thread: runs tasks posted by {@link ComputePool}, one at a time,
 * each paced at the pool's duty cycle (its rest owed is taken before the result is posted, so the
 * next task starts rested). A `hurry` message ends the current rest and every later one (shutdown).
 * Besides each task's result, the worker tells the pool when a rest begins (`resting`).
 */
type Message = { id: number; task: ComputeTask; dutyCycle: number } | { hurry: true };

const port = parentPort;
if (port === null) throw new Error('compute-worker must run in a worker thread');

let queue: Promise<void> = Promise.resolve();
let hurried = false;
let current: Pacer | undefined;
port.on('message', (message: Message) => {
  if ('hurry' in message) {
    hurried = true;
    current?.hurry();
    return;
  }
  queue = queue.then(async () => {
    const pacer = (current = new Pacer(hurried ? 1 : message.dutyCycle, { onRest: () => port.postMessage({ id: message.id, resting: true }) }));
    let reply: { ok: true; result: unknown } | { ok: false; error: { message: string; stack?: string | undefined } };
    try {
      reply = { ok: true, result: await runComputeTask(message.task, pacer) };
    } catch (error) {
      const err = error instanceof Error ? error : new Error(String(error));
      reply = { ok: false, error: { message: err.message, stack: err.stack } };
    }
    // A failed task used the core too: its rest is owed as well.
    await pacer.finish();
    current = undefined;
    port.postMessage({ id: message.id, ...reply, restedMillis: pacer.restedMillis });
  });
});
