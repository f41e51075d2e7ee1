import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { decodeSampleEntry, ensureRedisPassword, freePort, RedisServer, seriesId, silentLogger, sleep, type Sample } from '@sloth/core';
import { SamplePublisher, type SamplePublisherOptions } from '../src/publisher.js';
import { metricColumns, type MetricColumns, type MetricPoint } from '../src/records.js';
import { redisPerFile } from './helpers/redis-fixture.js';

const redis = redisPerFile('sloth-publisher-');

/** Counts what the publisher reports. */
class Counters {
  published = 0;
  dropped = 0;
}

function publisherFor(url: string, streamKey: string, counters: Counters, options: Partial<SamplePublisherOptions> = {}): SamplePublisher {
  return new SamplePublisher({
    redisUrl: url,
    streamKey,
    maxLength: 1_000_000,
    bufferSamples: 100_000,
    logger: silentLogger(),
    onDropped: (n) => (counters.dropped += n),
    onPublished: (n) => (counters.published += n),
    ...options,
  });
}

/** `count` gauge points of agent `agent`, values `first`, `first + 1`, …, at one timestamp. */
function gauges(agent: string, count: number, first: number, timestampMillis = 1_000): MetricColumns {
  const points: MetricPoint[] = Array.from({ length: count }, (_, i) => {
    const labels = { agent, n: String(first + i) };
    return { seriesKey: seriesId('test.gauge', labels), name: 'test.gauge', labels, agentId: agent, kind: 'gauge', unit: '1', description: '', monotonic: false, timestampMillis, value: first + i };
  });
  return metricColumns(points);
}

async function readStream(key: string): Promise<{ entries: number; sizes: number[]; samples: Sample[] }> {
  const rows = (await redis.client.xrange(key, '-', '+')) as Array<[string, string[]]>;
  const perEntry = rows.map(([, fields]) => decodeSampleEntry(fields));
  return { entries: rows.length, sizes: perEntry.map((s) => s.length), samples: perEntry.flat() };
}

async function until(what: string, condition: () => boolean | Promise<boolean>, timeoutMillis = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMillis;
  while (Date.now() < deadline) {
    if (await condition()) return;
    await sleep(20);
  }
  throw new Error(`timed out waiting for ${what}`);
}

describe('SamplePublisher', () => {
  it('drops and counts an entry it cannot encode instead of throwing at the request that handed it over, and goes on publishing', async () => {
    const counters = new Counters();
    const publisher = publisherFor(redis.url, 'unencodable:samples', counters);
    await publisher.start();
    try {
      // A sample time that is not finite cannot be encoded (every caller checks times before: this is the last guard).
      expect(() => publisher.publish(gauges('web-1', 2, 0, Number.NaN))).not.toThrow();
      publisher.publish(gauges('web-1', 3, 10));
      await until('the good entry is published', () => counters.published === 3);
    } finally {
      await publisher.shutdown();
    }
    expect(counters.dropped).toBe(2);
    expect(publisher.pending).toBe(0);
    expect((await readStream('unencodable:samples')).samples.map((s) => s.value)).toEqual([10, 11, 12]);
  });

  it('publishes the finite-valued points of a request as one batch entry, and a histogram as its count (first point: no interval, no quantiles)', async () => {
    const counters = new Counters();
    const publisher = publisherFor(redis.url, 'one:samples', counters);
    await publisher.start();
    try {
      const labels = { agent: 'web-1', le: 'x' };
      const points: MetricPoint[] = [
        { seriesKey: seriesId('cpu', { agent: 'web-1' }), name: 'cpu', labels: { agent: 'web-1' }, agentId: 'web-1', kind: 'gauge', unit: '1', description: '', monotonic: false, timestampMillis: 5_000, value: 0.5 },
        { seriesKey: seriesId('latency', labels), name: 'latency', labels, agentId: 'web-1', kind: 'histogram', unit: 's', description: '', monotonic: false, timestampMillis: 5_000, count: 3, sum: 1, bounds: [1], bucketCounts: [2, 1] },
        { seriesKey: seriesId('requests', { agent: 'web-1' }), name: 'requests', labels: { agent: 'web-1' }, agentId: 'web-1', kind: 'sum', unit: '1', description: '', monotonic: true, timestampMillis: 6_000, value: 42 },
      ];
      publisher.publish(metricColumns(points));
      await until('published', () => counters.published === 3);
      const stream = await readStream('one:samples');
      expect(stream.entries).toBe(1);
      expect(stream.samples).toEqual([
        { seriesId: 'cpu{agent="web-1"}', name: 'cpu', labels: { agent: 'web-1' }, agentId: 'web-1', timestampMillis: 5_000, value: 0.5 },
        { seriesId: 'requests{agent="web-1"}', name: 'requests', labels: { agent: 'web-1' }, agentId: 'web-1', timestampMillis: 6_000, value: 42 },
        { seriesId: 'latency.count{agent="web-1",le="x"}', name: 'latency.count', labels, agentId: 'web-1', timestampMillis: 5_000, value: 3 },
      ]);
      expect(publisher.pending).toBe(0);
      expect(counters.dropped).toBe(0);
    } finally {
      await publisher.shutdown();
    }
  });

  it('splits a large request into entries of at most samplesPerEntry samples, in order', async () => {
    const counters = new Counters();
    const publisher = publisherFor(redis.url, 'split:samples', counters, { samplesPerEntry: 100 });
    await publisher.start();
    try {
      publisher.publish(gauges('big', 250, 0));
      publisher.publish(gauges('small', 3, 1_000));
      await until('published', () => counters.published === 253);
      const stream = await readStream('split:samples');
      expect(stream.sizes.slice(0, 3)).toEqual([100, 100, 50]);
      expect(stream.sizes.reduce((a, b) => a + b, 0)).toBe(253);
      expect(stream.samples.map((s) => s.value)).toEqual([...Array.from({ length: 250 }, (_, i) => i), 1_000, 1_001, 1_002]);
      expect(stream.samples[250]).toMatchObject({ agentId: 'small', labels: { agent: 'small', n: '1000' } });
    } finally {
      await publisher.shutdown();
    }
  });

  it('buffers while Redis is unreachable, merges the waiting requests into full entries, drops the oldest beyond the buffer, and publishes the rest when Redis comes up', async () => {
    const port = await freePort();
    const counters = new Counters();
    // The server started later demands the password of its directory (made now, read by it at start).
    const password = ensureRedisPassword(join(redis.dir, 'late'));
    const publisher = publisherFor(`redis://:${password}@127.0.0.1:${port}`, 'late:samples', counters, { samplesPerEntry: 50, bufferSamples: 100 });
    await publisher.start(); // no Redis yet: not fatal
    let late: RedisServer | undefined;
    try {
      for (let k = 0; k < 5; k += 1) publisher.publish(gauges(`a${k}`, 40, k * 40));
      // 200 samples in entries of 50; the oldest 100 do not fit the buffer.
      expect(counters.dropped).toBe(100);
      expect(publisher.pending).toBe(100);
      late = await RedisServer.start({ dir: join(redis.dir, 'late'), port, appendOnly: false });
      await until('published after Redis came up', () => counters.published === 100);
      const lateClient = new Redis(late.url);
      try {
        const rows = (await lateClient.xrange('late:samples', '-', '+')) as Array<[string, string[]]>;
        const perEntry = rows.map(([, fields]) => decodeSampleEntry(fields));
        expect(perEntry.map((s) => s.length)).toEqual([50, 50]);
        expect(perEntry.flat().map((s) => s.value)).toEqual(Array.from({ length: 100 }, (_, i) => 100 + i));
        // Merged across requests: one entry carries two agents.
        expect(new Set(perEntry[0]!.map((s) => s.agentId))).toEqual(new Set(['a2', 'a3']));
      } finally {
        lateClient.disconnect();
      }
      expect(counters.dropped).toBe(100);
    } finally {
      await publisher.shutdown();
      await late?.stop();
    }
  });

  it('never drops a new sample for the ones already on their way to Redis', async () => {
    const counters = new Counters();
    const publisher = publisherFor(redis.url, 'inflight:samples', counters, { samplesPerEntry: 50, bufferSamples: 100 });
    await publisher.start();
    const pauser = new Redis(redis.url);
    try {
      publisher.publish(gauges('f', 1, 0));
      await until('connected and published', () => counters.published === 1);
      // Redis holds every write for a moment: what the publisher sends now stays in flight.
      await pauser.call('CLIENT', 'PAUSE', '1000', 'WRITE');
      publisher.publish(gauges('f', 100, 1)); // fills the buffer, and goes out at once
      publisher.publish(gauges('f', 50, 101)); // waits behind it: the buffer holds it
      expect(counters.dropped).toBe(0);
      await until('all published after the pause', () => counters.published === 151);
      expect((await readStream('inflight:samples')).samples.map((x) => x.value)).toEqual(Array.from({ length: 151 }, (_, i) => i));
    } finally {
      await pauser.call('CLIENT', 'UNPAUSE');
      pauser.disconnect();
      await publisher.shutdown();
    }
  });

  it('keeps publishing after a Redis restart', async () => {
    const own = await RedisServer.start({ dir: join(redis.dir, 'restart'), appendOnly: false });
    const counters = new Counters();
    const publisher = publisherFor(own.url, 'restart:samples', counters);
    await publisher.start();
    try {
      publisher.publish(gauges('r', 2, 1));
      await until('first published', () => counters.published === 2);
      own.kill();
      await sleep(200);
      publisher.publish(gauges('r', 2, 3));
      await own.restart(); // AOF off: the stream starts empty
      await until('published after the restart', () => counters.published === 4);
      const ownClient = new Redis(own.url);
      try {
        const rows = (await ownClient.xrange('restart:samples', '-', '+')) as Array<[string, string[]]>;
        expect(rows.flatMap(([, fields]) => decodeSampleEntry(fields)).map((s) => s.value)).toEqual([3, 4]);
      } finally {
        ownClient.disconnect();
      }
    } finally {
      await publisher.shutdown();
      await own.stop();
    }
  });

  it('keeps the samples of a failed XADD and sends them again', async () => {
    await redis.client.set('wrongtype:samples', 'not a stream');
    const counters = new Counters();
    const publisher = publisherFor(redis.url, 'wrongtype:samples', counters, { samplesPerEntry: 10 });
    await publisher.start();
    try {
      publisher.publish(gauges('w', 25, 0));
      await sleep(300);
      // Redis refused every entry (WRONGTYPE): nothing published, nothing dropped, all still buffered.
      expect(counters.published).toBe(0);
      expect(counters.dropped).toBe(0);
      expect(publisher.pending).toBe(25);
      await redis.client.del('wrongtype:samples');
      await until('published after the key was fixed', () => counters.published === 25);
      expect((await readStream('wrongtype:samples')).samples.map((s) => s.value)).toEqual(Array.from({ length: 25 }, (_, i) => i));
    } finally {
      await publisher.shutdown();
    }
  });

  it('caps the stream at about maxLength samples, converted to entries', async () => {
    const counters = new Counters();
    const publisher = publisherFor(redis.url, 'cap:samples', counters, { samplesPerEntry: 100, maxLength: 1_000 });
    await publisher.start();
    try {
      expect(publisher.maxLengthEntries).toBe(10);
      for (let k = 0; k < 50; k += 1) publisher.publish(gauges(`host-${k}.with-a-long-name.example.internal`, 100, k * 100));
      await until('published', () => counters.published === 5_000);
      const stream = await readStream('cap:samples');
      // MAXLEN ~ trims whole radix-tree nodes, so a little more than the cap may stay.
      expect(stream.samples.length).toBeGreaterThanOrEqual(1_000);
      expect(stream.samples.length).toBeLessThan(2_500);
      expect(stream.samples.at(-1)?.value).toBe(4_999);
    } finally {
      await publisher.shutdown();
    }
  });

  it('drains the buffer on shutdown', async () => {
    const counters = new Counters();
    const publisher = publisherFor(redis.url, 'drain:samples', counters, { samplesPerEntry: 10 });
    await publisher.start();
    for (let k = 0; k < 20; k += 1) publisher.publish(gauges(`d${k}`, 25, k * 25));
    await publisher.shutdown(5_000);
    expect(counters.published).toBe(500);
    expect(counters.dropped).toBe(0);
    expect((await readStream('drain:samples')).samples.map((s) => s.value)).toEqual(Array.from({ length: 500 }, (_, i) => i));
    // Stopped: further samples are ignored.
    publisher.publish(gauges('late', 1, 0));
    expect(publisher.pending).toBe(0);
  });
});
