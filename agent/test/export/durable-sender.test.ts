import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { silentLogger, sleep } from '@sloth/core';
import { DurableSender } from '../../src/export/durable-sender.js';
import { OtlpTransport, statusMessage } from '../../src/export/otlp-transport.js';
import { parseRetryAfter } from '../../src/export/export-result.js';
import { OtlpSink } from '../helpers/otlp-sink.js';

const body = (n: number, size = 16): Uint8Array => {
  const b = new Uint8Array(size);
  b.fill(n % 256);
  b[0] = n;
  return b;
};

async function waitFor(predicate: () => boolean, timeoutMillis = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMillis;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await sleep(20);
  }
}

describe('DurableSender over real HTTP', () => {
  let dir: string;
  let sink: OtlpSink;
  const senders: DurableSender[] = [];

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sloth-sender-'));
    sink = new OtlpSink();
    await sink.start();
  });
  afterEach(async () => {
    for (const s of senders.splice(0)) await s.shutdown();
    await sink.stop();
    await rm(dir, { recursive: true, force: true });
  });

  function sender(options: Partial<ConstructorParameters<typeof DurableSender>[0]> = {}, url = sink.url): DurableSender {
    const s = new DurableSender({
      transport: new OtlpTransport({ collectorUrl: url, token: 't0ken', timeoutMillis: 2000 }),
      spoolDir: join(dir, 'spool'),
      logger: silentLogger(),
      minBackoffMillis: 20,
      maxBackoffMillis: 100,
      ...options,
    });
    senders.push(s);
    return s;
  }

  it('sends protobuf with the bearer token to the signal path', async () => {
    const s = sender();
    await s.start();
    s.enqueue('metrics', body(1));
    s.enqueue('logs', body(2));
    s.enqueue('traces', body(3));
    // The sink records a request before the sender has read its answer: wait for both sides.
    await waitFor(() => sink.requests.length === 3 && s.stats.sentBatches === 3);
    expect(sink.requests.map((r) => r.path)).toEqual(['/v1/metrics', '/v1/logs', '/v1/traces']);
    expect(sink.requests.every((r) => r.authorization === 'Bearer t0ken' && r.contentType === 'application/x-protobuf')).toBe(true);
    expect(s.stats.sentBatches).toBe(3);
  });

  it('spools while the collector answers 503, honours Retry-After, and replays in order', async () => {
    let unavailable = true;
    let refusedAt: number[] = [];
    sink.answer = () => {
      if (unavailable) {
        refusedAt.push(Date.now());
        return { status: 503, headers: { 'retry-after': '1' }, body: '{"code":"SLOTH_ERR_OVERLOADED","message":"busy"}' };
      }
      return { status: 200 };
    };
    const s = sender();
    await s.start();
    for (let i = 0; i < 10; i++) s.enqueue('metrics', body(i));
    await waitFor(() => refusedAt.length >= 2);
    // Retry-After: 1 → the second attempt comes no sooner than ~1 s after the first.
    expect(refusedAt[1]! - refusedAt[0]!).toBeGreaterThanOrEqual(900);
    expect(sink.requests).toHaveLength(0);
    const spooled = (await readdir(join(dir, 'spool'))).filter((n) => n.endsWith('.otlp'));
    expect(spooled.length).toBe(10);
    unavailable = false;
    refusedAt = [];
    await waitFor(() => sink.requests.length === 10);
    expect(sink.requests.map((r) => r.body[0])).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    await waitFor(() => s.stats.queuedBatches === 0);
    expect((await readdir(join(dir, 'spool'))).filter((n) => n.endsWith('.otlp'))).toEqual([]);
  });

  it('keeps spooled batches across a restart of the agent while the collector is down', async () => {
    const port = sink.port;
    await sink.stop();
    const first = sender({}, `http://127.0.0.1:${port}`);
    await first.start();
    for (let i = 0; i < 5; i++) first.enqueue('metrics', body(i));
    await waitFor(() => first.stats.retries >= 1);
    await first.shutdown();
    expect((await readdir(join(dir, 'spool'))).filter((n) => n.endsWith('.otlp'))).toHaveLength(5);

    await sink.start(port);
    const second = sender({}, `http://127.0.0.1:${port}`);
    await second.start();
    second.enqueue('metrics', body(5));
    await waitFor(() => sink.requests.length === 6);
    expect(sink.requests.map((r) => r.body[0])).toEqual([0, 1, 2, 3, 4, 5]);
  });

  it('drops the oldest batches beyond the spool bound and counts them', async () => {
    sink.answer = () => ({ status: 503 });
    const s = sender({ maxSpoolBytes: 1000 });
    await s.start();
    for (let i = 0; i < 20; i++) s.enqueue('metrics', body(i, 100));
    await waitFor(() => s.stats.retries >= 1);
    expect(s.stats.droppedBatches).toBe(10);
    expect(s.stats.queuedBytes).toBeLessThanOrEqual(1000);
    sink.answer = () => ({ status: 200 });
    await waitFor(() => s.stats.queuedBatches === 0);
    // the newest ten survive, in order
    expect(sink.requests.map((r) => r.body[0])).toEqual([10, 11, 12, 13, 14, 15, 16, 17, 18, 19]);
  });

  it('logs and drops batches the collector refuses (400, 401, 413) without blocking the queue', async () => {
    const lines: string[] = [];
    const { pino } = await import('pino');
    const logger = pino({ level: 'info' }, { write: (l: string) => lines.push(l) });
    const statuses = [401, 413, 400];
    sink.answer = () => {
      const status = statuses.shift();
      return status === undefined ? { status: 200 } : { status, body: JSON.stringify({ code: 'SLOTH_ERR_X', message: `nope ${status}` }) };
    };
    const s = sender({ logger });
    await s.start();
    for (let i = 0; i < 4; i++) s.enqueue('logs', body(i));
    await waitFor(() => sink.requests.length === 1);
    expect(sink.requests[0]!.body[0]).toBe(3);
    expect(s.stats.rejectedBatches).toBe(3);
    const refusals = lines.map((l) => JSON.parse(l) as { status?: number; reason?: string }).filter((l) => l.status !== undefined);
    expect(refusals.map((l) => [l.status, l.reason])).toEqual([
      [401, 'SLOTH_ERR_X: nope 401'],
      [413, 'SLOTH_ERR_X: nope 413'],
      [400, 'SLOTH_ERR_X: nope 400'],
    ]);
    expect(lines.join('\n')).not.toContain('t0ken');
  });

  it('reads the message of a protobuf Status error body, not its bytes as text', async () => {
    const message = 'the collector is overloaded: retry after 1 s';
    const text = new TextEncoder().encode(message);
    // google.rpc.Status { code = 14 (UNAVAILABLE), message }, as the collector answers a protobuf request.
    const status = Uint8Array.from([0x08, 14, 0x12, text.length, ...text]);
    sink.answer = () => ({ status: 503, headers: { 'content-type': 'application/x-protobuf', 'retry-after': '1' }, body: status });
    const result = await new OtlpTransport({ collectorUrl: sink.url }).send('metrics', body(1));
    expect(result).toEqual({ kind: 'retryable', reason: `HTTP 503: ${message}`, retryAfterMillis: 1000 });
    expect(statusMessage(Uint8Array.from([0x12, 50, 0x41]))).toBeUndefined(); // a length past the end is not a Status
  });

  it('parses Retry-After as seconds or as an HTTP date', () => {
    expect(parseRetryAfter('3')).toBe(3000);
    expect(parseRetryAfter(new Date(10_000 + 5000).toUTCString(), 10_000)).toBe(5000);
    expect(parseRetryAfter('soon')).toBeUndefined();
    expect(parseRetryAfter(null)).toBeUndefined();
  });
});
