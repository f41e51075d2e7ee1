import { parentPort, receiveMessageOnPort, workerData, type MessagePort } from 'node:worker_threads';
import { Sandbox } from './sandbox.js';
import { nowMillis, type HostReply, type SandboxJob, type SandboxOutcome } from './sandbox-job.js';

/** Data the host hands each playbook worker thread. */
export interface PlaybookWorkerInit {
  /** One Int32 cell: the host sets it to 1 after posting a reply. */
  signalBuffer: SharedArrayBuffer;
  /** Where the host posts replies to synchronous calls (read with receiveMessageOnPort). */
  replyPort: MessagePort;
  graceMillis: number;
}

export type WorkerToHost =
  | { type: 'ready' }
  | { type: 'call'; jobId: number; seq: number; method: string; args: unknown[] }
  | { type: 'notify'; jobId: number; method: string; args: unknown[]; timestampMillis: number }
  | { type: 'done'; jobId: number; outcome: SandboxOutcome }
  | { type: 'failed'; jobId: number; message: string };

export type HostToWorker = { type: 'job'; jobId: number; job: SandboxJob };

const port = parentPort;
if (port === null) throw new Error('the playbook worker must run in a worker thread');
const init = workerData as PlaybookWorkerInit;
const signal = new Int32Array(init.signalBuffer);
let currentJobId = 0;
let seq = 0;

function takeReply(wanted: number): HostReply | undefined {
  for (;;) {
    const received = receiveMessageOnPort(init.replyPort);
    if (received === undefined) return undefined;
    const reply = received.message as { seq: number; reply: HostReply };
    // Replies to calls that already timed out are dropped.
    if (reply.seq === wanted) return reply.reply;
  }
}

const sandbox = new Sandbox({
  call(method, args, deadlineMillis) {
    seq += 1;
    const mySeq = seq;
    port.postMessage({ type: 'call', jobId: currentJobId, seq: mySeq, method, args } satisfies WorkerToHost);
    for (;;) {
      const reply = takeReply(mySeq);
      if (reply !== undefined) return reply;
      const remaining = deadlineMillis + init.graceMillis - nowMillis();
      if (remaining <= 0) return { ok: false, err: `the host did not answer ${method} in time`, stop: 'timeout' };
      Atomics.wait(signal, 0, 0, remaining);
      Atomics.store(signal, 0, 0);
    }
  },
  notify(method, args) {
    port.postMessage({ type: 'notify', jobId: currentJobId, method, args, timestampMillis: Date.now() } satisfies WorkerToHost);
  },
});

port.on('message', (message: HostToWorker) => {
  if (message.type !== 'job') return;
  currentJobId = message.jobId;
  sandbox
    .execute(message.job)
    .then((outcome) => port.postMessage({ type: 'done', jobId: message.jobId, outcome } satisfies WorkerToHost))
    .catch((error: unknown) =>
      port.postMessage({ type: 'failed', jobId: message.jobId, message: error instanceof Error ? error.message : String(error) } satisfies WorkerToHost),
    )
    .finally(() => {
      setImmediate(() => {
        sandbox.prepareSpare().catch(() => undefined);
      });
    });
});

await sandbox.warmUp();
port.postMessage({ type: 'ready' } satisfies WorkerToHost);
