import type { Readable } from 'node:stream';
import { HttpError } from './http-error.js';

/**
 * Reusable buffers for request bodies that arrive in several chunks. Joining the chunks into a new
 * buffer per request (what fastify's `parseAs: 'buffer'` does) allocates a body-sized ArrayBuffer
 * for every request; on the collector's main thread such external bytes, far more than its heap, are
 * what start V8's full collections under load (bench/ingest/decisions.md, round 4). A body joined into
 * a pooled slab goes back to the pool once its request is done with it: decoded (the decoders copy
 * what they keep) and in the write-ahead log on disk.
 */
export class BodyPool {
  private readonly free: ArrayBuffer[] = [];

  /**
   * @param slabBytes - bodies up to this size are pooled; larger ones get a buffer of their own
   * @param maxFreeSlabs - slabs kept for reuse at most (the memory the pool holds is at most their product)
   */
  constructor(
    readonly slabBytes: number,
    readonly maxFreeSlabs: number,
  ) {}

  /** A buffer of `bytes`: a view of a pooled slab (hand `slab` back with {@link give}), or past a slab's size a new buffer (`slab` undefined). */
  take(bytes: number): { body: Buffer; slab: ArrayBuffer | undefined } {
    if (bytes > this.slabBytes) return { body: Buffer.allocUnsafe(bytes), slab: undefined };
    const slab = this.free.pop() ?? new ArrayBuffer(this.slabBytes);
    return { body: Buffer.from(slab, 0, bytes), slab };
  }

  /** Takes a slab back; the caller must no longer read or write anything in it. */
  give(slab: ArrayBuffer): void {
    if (slab.byteLength === this.slabBytes && this.free.length < this.maxFreeSlabs) this.free.push(slab);
  }

  /** Slabs waiting for reuse. */
  get freeSlabs(): number {
    return this.free.length;
  }
}

/**
 * Reads a request body: a body that came in one chunk is that chunk (no copy); several chunks are
 * joined into a slab of `pool`. Rejects with 413 past `limitBytes` (counting as it reads, so an
 * oversized body is never held whole), with 400 when fewer bytes came than `Content-Length` said,
 * and with 400 naming the stream's error when the client went away.
 */
export function readBody(stream: Readable, declaredBytes: number, limitBytes: number, pool: BodyPool): Promise<{ body: Buffer; slab: ArrayBuffer | undefined }> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let received = 0;
    const stop = (): void => {
      stream.removeListener('data', onData);
      stream.removeListener('end', onEnd);
      stream.removeListener('error', onError);
    };
    function onData(chunk: Buffer | string): void {
      const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
      received += bytes.length;
      if (received > limitBytes) {
        stop();
        reject(new HttpError(413, 'SLOTH_ERR_PAYLOAD_TOO_LARGE', `body is larger than the limit of ${limitBytes} bytes`, { maxBodyBytes: limitBytes }));
        return;
      }
      chunks.push(bytes);
    }
    function onError(error: Error): void {
      stop();
      reject(new HttpError(400, 'SLOTH_ERR_BAD_REQUEST', `the request body could not be read: ${error.message}`));
    }
    function onEnd(): void {
      stop();
      if (Number.isFinite(declaredBytes) && received !== declaredBytes) {
        reject(new HttpError(400, 'SLOTH_ERR_BAD_REQUEST', `body has ${received} bytes but Content-Length says ${declaredBytes}`));
        return;
      }
      if (chunks.length === 0) {
        resolve({ body: Buffer.alloc(0), slab: undefined });
        return;
      }
      if (chunks.length === 1) {
        resolve({ body: chunks[0] as Buffer, slab: undefined });
        return;
      }
      const { body, slab } = pool.take(received);
      let offset = 0;
      for (const chunk of chunks) offset += chunk.copy(body, offset);
      resolve({ body, slab });
    }
    stream.on('data', onData);
    stream.on('end', onEnd);
    stream.on('error', onError);
    stream.resume();
  });
}
