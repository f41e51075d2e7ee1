import { parentPort } from 'node:worker_threads';
import { runComputeTask, type ComputeTask } from './compute-tasks.js';

/** Entry point of a compute worker thread: runs tasks posted by {@link ComputePool}, one at a time. */
interface TaskMessage {
  id: number;
  task: ComputeTask;
}

const port = parentPort;
if (port === null) throw new Error('compute-worker must run in a worker thread');

let queue: Promise<void> = Promise.resolve();
port.on('message', (message: TaskMessage) => {
  queue = queue.then(async () => {
    try {
      const result = await runComputeTask(message.task);
      port.postMessage({ id: message.id, ok: true, result });
    } catch (error) {
      const err = error instanceof Error ? error : new Error(String(error));
      port.postMessage({ id: message.id, ok: false, error: { message: err.message, stack: err.stack } });
    }
  });
});
