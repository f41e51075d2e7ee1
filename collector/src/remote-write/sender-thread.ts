import { parentPort, workerData } from 'node:worker_threads';
import { RemoteEndpoint, type SendResult } from './remote-endpoint.js';
import { compressWriteRequest } from './write-request.js';

/**
 * The remote-write sender thread: snappy-compresses encoded WriteRequests
 * and POSTs them, off the collector's main thread. Stateless: every request
 * brings its bytes, so a retry or a restarted thread needs nothing from here.
 */
export interface SenderThreadData {
  readonly url: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly timeoutMillis: number;
}

export type SenderThreadRequest = { readonly kind: 'send'; readonly id: number; readonly encoded: Uint8Array } | { readonly kind: 'abort' };

export interface SenderThreadReply {
  readonly id: number;
  readonly result: SendResult;
}

const port = parentPort;
if (port !== null) {
  const data = workerData as SenderThreadData;
  const endpoint = new RemoteEndpoint(data.url, data.headers, data.timeoutMillis);
  const abort = new AbortController();
  port.on('message', (message: SenderThreadRequest) => {
    if (message.kind === 'abort') {
      abort.abort();
      return;
    }
    const { id, encoded } = message;
    void endpoint
      .send(compressWriteRequest(encoded), abort.signal)
      .catch((error: unknown): SendResult => ({ kind: 'retryable', reason: `sender thread: ${(error as Error).message}` }))
      .then((result) => port.postMessage({ id, result } satisfies SenderThreadReply));
  });
}
