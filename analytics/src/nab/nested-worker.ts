import { parentPort } from 'node:worker_threads';
import { NestedJobRunner, type NestedWorkerReply, type NestedWorkerRequest } from './nested-jobs.js';

// One nested-CV job at a time per worker thread; series and traces stay cached in the thread.
const port = parentPort;
if (port !== null) {
  const runner = new NestedJobRunner();
  port.on('message', (request: NestedWorkerRequest) => {
    runner.run(request.job).then(
      (result) => port.postMessage({ id: request.id, ok: true, result } satisfies NestedWorkerReply),
      (error: unknown) => port.postMessage({ id: request.id, ok: false, message: error instanceof Error ? error.message : String(error) } satisfies NestedWorkerReply),
    );
  });
}
