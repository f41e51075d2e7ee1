import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { PoisonEntryError, RedisServer, StreamConsumer, type StreamConsumerOptions, type StreamEntry } from '../src/index.js';

const dir = mkdtempSync(join(tmpdir(), 'sloth-stream-consumer-'));
let server: RedisServer;
let admin: Redis;
const consumers: StreamConsumer[] = [];
const clients: Redis[] = [];

beforeAll(async () => {
  // No AOF: a restart loses every stream and group, as a Redis without persistence would.
  server = await RedisServer.start({ dir: join(dir, 'redis'), appendOnly: false });
  admin = connect();
});

afterEach(async () => {
  await Promise.all(consumers.splice(0).map(async (c) => await c.shutdown(2_000)));
  for (const c of clients.splice(1)) c.disconnect();
});

afterAll(async () => {
  admin.disconnect();
  await server.stop();
  rmSync(dir, { recursive: true, force: true });
});

function connect(): Redis {
  const client = new Redis(server.url, { maxRetriesPerRequest: null });
  client.on('error', () => undefined);
  clients.push(client);
  return client;
}

let streamCounter = 0;
function freshStream(): string {
  streamCounter += 1;
  return `t${process.pid}:s${streamCounter}`;
}

async function add(stream: string, value: string): Promise<string> {
  return (await admin.xadd(stream, '*', 'v', value))!;
}

async function until(condition: () => boolean | Promise<boolean>, what: string, timeoutMillis = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMillis;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

function consumer(options: Partial<StreamConsumerOptions> & Pick<StreamConsumerOptions, 'streams' | 'handle'>): StreamConsumer {
  const c = new StreamConsumer({ redis: connect(), group: { name: 'g', consumer: 'c1' }, blockMillis: 100, minBackoffMillis: 10, maxBackoffMillis: 200, ...options });
  consumers.push(c);
  return c;
}

const values = (entries: readonly StreamEntry[]): string[] => entries.map(([, f]) => f[1]!);

async function pendingCount(stream: string, group = 'g'): Promise<number> {
  const reply = (await admin.xpending(stream, group)) as [number, ...unknown[]];
  return reply[0];
}

describe('StreamConsumer (real redis-server)', () => {
  it('creates the stream and group, handles entries in order and acknowledges them after the handler', async () => {
    const stream = freshStream();
    const seen: string[] = [];
    let release: (() => void) | undefined;
    const gate = new Promise<void>((r) => (release = r));
    const c = consumer({
      streams: [stream],
      handle: async (entries) => {
        seen.push(...values(entries));
        await gate;
      },
    });
    await c.start();
    expect(await admin.exists(stream)).toBe(1);
    await add(stream, 'a');
    await add(stream, 'b');
    await until(() => seen.length >= 1, 'the first delivery');
    // The handler has not finished: nothing is acknowledged yet.
    expect(await pendingCount(stream)).toBeGreaterThan(0);
    release!();
    await until(() => seen.length === 2, 'both entries');
    await until(async () => (await pendingCount(stream)) === 0, 'acknowledgement');
    expect(seen).toEqual(['a', 'b']);
    expect(c.counts.acknowledged).toBe(2);
  });

  it('retries an entry whose handler failed, then acknowledges it', async () => {
    const stream = freshStream();
    const attempts: string[] = [];
    const c = consumer({
      streams: [stream],
      count: 1,
      handle: async (entries) => {
        for (const v of values(entries)) {
          attempts.push(v);
          if (v === 'flaky' && attempts.filter((a) => a === 'flaky').length < 3) throw new Error('transient');
        }
      },
    });
    await c.start();
    await add(stream, 'flaky');
    await add(stream, 'after');
    await until(() => attempts.includes('after') && c.counts.acknowledged === 2, 'both handled');
    expect(attempts.filter((a) => a === 'flaky')).toHaveLength(3);
    expect(c.counts.failed).toBe(2);
    expect(c.counts.poisoned).toBe(0);
    expect(await pendingCount(stream)).toBe(0);
  });

  it('dead-letters and acknowledges poison entries, counts them, and goes on', async () => {
    const stream = freshStream();
    const deadLetter = `${stream}:dead`;
    const handled: string[] = [];
    const poisoned: number[] = [];
    const c = consumer({
      streams: [stream],
      maxAttempts: 3,
      deadLetterStream: deadLetter,
      metrics: { poisoned: (_s, n) => poisoned.push(n) },
      handle: async (entries) => {
        for (const v of values(entries)) {
          if (v === 'undecodable') throw new PoisonEntryError('field v is not JSON');
          if (v === 'always-fails') throw new Error('handler bug');
          handled.push(v);
        }
      },
    });
    await c.start();
    await add(stream, 'ok1');
    const bad1 = await add(stream, 'undecodable');
    const bad2 = await add(stream, 'always-fails');
    await add(stream, 'ok2');
    await until(() => handled.includes('ok2') && c.counts.poisoned === 2, 'poison entries given up');
    // At least once: a good entry in a batch that failed is handled again when the batch is retried entry by entry.
    expect([...new Set(handled)]).toEqual(['ok1', 'ok2']);
    expect(poisoned).toEqual([1, 1]);
    expect(await pendingCount(stream)).toBe(0);
    const dead = (await admin.xrange(deadLetter, '-', '+')).map(([, f]) => Object.fromEntries(pairs(f)));
    expect(dead.map((d) => d.entryId)).toEqual([bad1, bad2]);
    expect(dead[0]).toMatchObject({ source: stream, v: 'undecodable', error: 'field v is not JSON' });
    expect(dead[1]).toMatchObject({ v: 'always-fails', error: 'handler bug' });
  });

  it("handles this consumer's pending entries first after a crash", async () => {
    const stream = freshStream();
    await admin.xgroup('CREATE', stream, 'g', '0', 'MKSTREAM');
    await add(stream, 'p1');
    await add(stream, 'p2');
    // A previous life of consumer c1 read these and died before acknowledging them.
    await admin.xreadgroup('GROUP', 'g', 'c1', 'COUNT', 10, 'STREAMS', stream, '>');
    await add(stream, 'new');
    const seen: string[] = [];
    const c = consumer({ streams: [stream], count: 1, handle: async (entries) => void seen.push(...values(entries)) });
    await c.start();
    await until(() => seen.length === 3, 'all three');
    expect(seen).toEqual(['p1', 'p2', 'new']);
    expect(await pendingCount(stream)).toBe(0);
  });

  it('claims entries a dead consumer left pending (XAUTOCLAIM)', async () => {
    const stream = freshStream();
    await admin.xgroup('CREATE', stream, 'g', '0', 'MKSTREAM');
    await add(stream, 'orphan1');
    await add(stream, 'orphan2');
    await admin.xreadgroup('GROUP', 'g', 'dead-consumer', 'COUNT', 10, 'STREAMS', stream, '>');
    const seen: string[] = [];
    const c = consumer({ streams: [stream], claimIdleMillis: 50, claimIntervalMillis: 50, handle: async (entries) => void seen.push(...values(entries)) });
    await c.start();
    await until(() => seen.length === 2, 'the claimed entries');
    expect(seen).toEqual(['orphan1', 'orphan2']);
    expect(c.counts.claimed).toBe(2);
    expect(await pendingCount(stream)).toBe(0);
  });

  it('stops within the bound even when a handler never returns', async () => {
    const stream = freshStream();
    let entered = false;
    const c = consumer({
      streams: [stream],
      handle: async () => {
        entered = true;
        await new Promise(() => undefined);
      },
    });
    await c.start();
    await add(stream, 'stuck');
    await until(() => entered, 'the handler');
    await c.shutdown(100);
    // Not acknowledged: it is redelivered to whoever reads the group next.
    expect(await pendingCount(stream)).toBe(1);
  });

  it('follows a stream without a group from a saved cursor', async () => {
    const stream = freshStream();
    const first = await add(stream, 'before');
    await add(stream, 'after-cursor');
    const saved = new Map<string, string>([[stream, first]]);
    const seen: string[] = [];
    const c = consumer({
      streams: [stream],
      group: undefined,
      cursor: { load: (s) => saved.get(s), save: (s, id) => saved.set(s, id) },
      handle: async (entries) => void seen.push(...values(entries)),
    });
    await c.start();
    const last = await add(stream, 'live');
    await until(() => seen.length === 2, 'two entries');
    expect(seen).toEqual(['after-cursor', 'live']);
    expect(saved.get(stream)).toBe(last);
  });
});

describe('StreamConsumer follow mode', () => {
  it('skips a poison entry (saving the cursor past it) and goes on', async () => {
    const stream = freshStream();
    const saved = new Map<string, string>();
    const seen: string[] = [];
    const c = consumer({
      streams: [stream],
      group: undefined,
      count: 1,
      cursor: { load: (s) => saved.get(s), save: (s, id) => saved.set(s, id) },
      handle: async (entries) => {
        for (const v of values(entries)) {
          if (v === 'bad') throw new PoisonEntryError('not a report');
          seen.push(v);
        }
      },
    });
    await c.start();
    await add(stream, 'one');
    const bad = await add(stream, 'bad');
    const last = await add(stream, 'two');
    await until(() => seen.length === 2, 'the entries around the poison one');
    expect(seen).toEqual(['one', 'two']);
    expect(c.counts.poisoned).toBe(1);
    await until(() => saved.get(stream) === last, 'the cursor to pass the last entry');
    expect(saved.get(stream)).not.toBe(bad);
  });
});

describe('StreamConsumer across a Redis restart (real redis-server killed)', () => {
  it('recreates the vanished group and processes every entry written after the restart, none skipped', async () => {
    const streamA = freshStream();
    const streamB = freshStream();
    const seen: string[] = [];
    const c = consumer({
      streams: [streamA, streamB],
      // '$' for a first start; the recreation must still not start at the end.
      group: { name: 'g', consumer: 'c1', createAt: '$' },
      handle: async (entries) => void seen.push(...values(entries)),
    });
    await c.start();
    await add(streamA, 'before-restart');
    await until(() => seen.includes('before-restart'), 'the first entry');

    server.kill();
    await server.restart();
    // Written before the consumer noticed the restart: a group recreated at '$' would skip these.
    await add(streamA, 'a1');
    await add(streamB, 'b1');
    await add(streamA, 'a2');
    await until(() => c.counts.groupsRecreated >= 1, 'the group to be recreated');
    await add(streamB, 'b2');
    await until(() => seen.length === 5, 'every entry written after the restart');
    expect(seen.slice(0, 1)).toEqual(['before-restart']);
    expect(seen.slice(1).sort()).toEqual(['a1', 'a2', 'b1', 'b2']);
    expect(await pendingCount(streamA)).toBe(0);
    expect(await pendingCount(streamB)).toBe(0);
  });

  it('keeps retrying while Redis is down and resumes when it is back', async () => {
    const stream = freshStream();
    const seen: string[] = [];
    // A client that fails commands while disconnected (instead of queueing them) shows the back-off path.
    const redis = new Redis(server.url, { maxRetriesPerRequest: 0, retryStrategy: () => 50 });
    redis.on('error', () => undefined);
    clients.push(redis);
    const c = consumer({ redis, streams: [stream], handle: async (entries) => void seen.push(...values(entries)) });
    await c.start();
    await server.stop();
    await until(() => c.counts.readFailures >= 1, 'reads to fail while Redis is down');
    await server.restart();
    await add(stream, 'back');
    await until(() => seen.includes('back'), 'the entry written after Redis came back');
    expect(seen).toEqual(['back']);
  });
});

function pairs(fields: readonly string[]): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  for (let i = 0; i + 1 < fields.length; i += 2) out.push([fields[i]!, fields[i + 1]!]);
  return out;
}
