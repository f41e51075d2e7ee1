import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { ThreadEndpoint } from '../../src/remote-write/thread-endpoint.js';
import { decodeWriteRequest, encodeLabels, WriteRequestWriter } from '../../src/remote-write/write-request.js';

describe('remote-write sender thread', () => {
  it('compresses and POSTs from its thread: 200 is success, 400 failure, 503 retryable, an unreachable remote retryable', async () => {
    const statuses = [200, 400, 503];
    const received: Array<{ headers: IncomingHttpHeaders; body: Buffer }> = [];
    const server = createServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (c: Buffer) => chunks.push(c));
      request.on('end', () => {
        received.push({ headers: request.headers, body: Buffer.concat(chunks) });
        response.statusCode = statuses.shift() ?? 200;
        response.end();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/v1/write`;
    const endpoint = new ThreadEndpoint({ url, headers: { authorization: 'Bearer t0ken' }, timeoutMillis: 5_000 });
    const writer = new WriteRequestWriter();
    writer.series(encodeLabels([{ name: '__name__', value: 'up' }]), [1_000, 2_000], [1, 0], 0, 2);
    const encoded = writer.finish();
    const abort = new AbortController();
    try {
      expect(await endpoint.send(encoded, abort.signal)).toEqual({ kind: 'success' });
      expect((await endpoint.send(encoded, abort.signal)).kind).toBe('failure');
      expect((await endpoint.send(encoded, abort.signal)).kind).toBe('retryable');
      expect(received).toHaveLength(3);
      expect(decodeWriteRequest(received[0]?.body ?? Buffer.alloc(0))).toEqual([{ labels: [{ name: '__name__', value: 'up' }], samples: [{ timestamp: 1_000, value: 1 }, { timestamp: 2_000, value: 0 }] }]);
      expect(received[0]?.headers).toMatchObject({ 'content-encoding': 'snappy', 'x-prometheus-remote-write-version': '0.1.0', authorization: 'Bearer t0ken' });
      // A closed endpoint starts a new thread on the next send.
      await endpoint.close();
      expect(await endpoint.send(encoded, abort.signal)).toEqual({ kind: 'success' });
    } finally {
      await endpoint.close();
      await new Promise((resolve) => server.close(resolve));
    }
    const unreachable = new ThreadEndpoint({ url, headers: {}, timeoutMillis: 5_000 });
    try {
      const result = await unreachable.send(encoded, abort.signal);
      expect(result.kind).toBe('retryable');
    } finally {
      await unreachable.close();
    }
  });

  it('a sender thread that dies mid-request fails that request as retryable, and the next send starts a new one', async () => {
    let answer = false;
    const server = createServer((request, response) => {
      request.resume();
      // The first request hangs (the thread dies while waiting on it); later ones succeed.
      request.on('end', () => {
        if (answer) response.end();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/v1/write`;
    const endpoint = new ThreadEndpoint({ url, headers: {}, timeoutMillis: 30_000 });
    const writer = new WriteRequestWriter();
    writer.series(encodeLabels([{ name: '__name__', value: 'up' }]), [1_000], [1], 0, 1);
    const encoded = writer.finish();
    const abort = new AbortController();
    try {
      const inFlight = endpoint.send(encoded, abort.signal);
      await new Promise((resolve) => setTimeout(resolve, 500));
      // The thread dies as a crash would end it: from outside, with a request on its way.
      await (endpoint as unknown as { worker: Worker }).worker.terminate();
      expect(await inFlight).toEqual({ kind: 'retryable', reason: 'the sender thread exited (code 1)' });
      answer = true;
      expect(await endpoint.send(encoded, abort.signal)).toEqual({ kind: 'success' });
    } finally {
      await endpoint.close();
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
