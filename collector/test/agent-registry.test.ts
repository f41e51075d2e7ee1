import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeJsonMessage, freePort, redisKeys, RedisServer, sleep, slothEventSchema, type SlothEvent } from '@sloth/core';
import { AgentRegistry } from '../src/agent-registry.js';
import { SqliteStore } from '../src/store/sqlite-store.js';
import { resource } from './store/fixtures.js';

let dir: string;
let redisServer: RedisServer;
let redis: Redis;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sloth-registry-'));
  redisServer = await RedisServer.start({ dir: join(dir, 'redis'), appendOnly: false });
  redis = new Redis(redisServer.url);
});

afterAll(async () => {
  redis.disconnect();
  await redisServer.stop();
  rmSync(dir, { recursive: true, force: true });
});

async function events(stream: string): Promise<SlothEvent[]> {
  const entries = await redis.xrange(stream, '-', '+');
  return entries.map(([, fields]) => decodeJsonMessage(fields, slothEventSchema));
}

function openStore(name: string): SqliteStore {
  return SqliteStore.open({ dataDir: join(dir, name), retentionMillis: 86_400_000, pruneIntervalMillis: 0 });
}

describe('AgentRegistry', () => {
  it('marks an agent down after three silent intervals, publishes agent_down, and agent_up when it returns', async () => {
    const keys = redisKeys(`reg-${process.pid}-a`);
    const store = openStore('a');
    const registry = new AgentRegistry({ store, redis, keys, expectedIntervalMillis: 10_000 });
    registry.observe([resource('host-a', { 'os.type': 'linux' }), resource('host-b')], 1_000_000);
    registry.observe([resource('host-b')], 1_020_000);

    expect(registry.check(1_029_999)).toEqual([]);
    expect(registry.check(1_030_000)).toEqual(['host-a']); // 30 s = 3 × 10 s after its last report
    expect(registry.check(1_040_000)).toEqual([]); // already down: no second event
    expect(registry.list().map((a) => [a.id, a.state, a.firstSeenMillis, a.lastSeenMillis])).toEqual([
      ['host-a', 'down', 1_000_000, 1_000_000],
      ['host-b', 'up', 1_000_000, 1_020_000],
    ]);

    registry.observe([resource('host-a', { 'os.type': 'linux' })], 1_050_000);
    expect(registry.state('host-a')).toBe('up');
    await registry.shutdown();

    const published = await events(keys.events);
    expect(published.map((e) => [e.type, e.agentId, e.timestampMillis, e.attributes.reason ?? null])).toEqual([
      ['agent_up', 'host-a', 1_000_000, 'first_seen'],
      ['agent_up', 'host-b', 1_000_000, 'first_seen'],
      ['agent_down', 'host-a', 1_030_000, null],
      ['agent_up', 'host-a', 1_050_000, 'resumed'],
    ]);
    expect(published[2]?.attributes).toMatchObject({ 'os.type': 'linux', 'host.name': 'host-a', silentMillis: 30_000, lastSeenMillis: 1_000_000 });

    // State survives a restart through the store.
    const again = new AgentRegistry({ store, redis, keys, expectedIntervalMillis: 10_000 });
    expect(again.list().map((a) => [a.id, a.state, a.lastSeenMillis])).toEqual([
      ['host-a', 'up', 1_050_000],
      ['host-b', 'up', 1_020_000],
    ]);
    await again.shutdown();
    store.close();
  });

  it('runs the down check on its own timer once started', async () => {
    const keys = redisKeys(`reg-${process.pid}-b`);
    const store = openStore('b');
    const registry = new AgentRegistry({ store, redis, keys, expectedIntervalMillis: 40, checkIntervalMillis: 20 });
    registry.observe([resource('quiet')], Date.now());
    registry.start();
    const deadline = Date.now() + 10_000;
    while (registry.state('quiet') !== 'down' && Date.now() < deadline) await sleep(20);
    await registry.shutdown();
    expect(registry.state('quiet')).toBe('down');
    expect((await events(keys.events)).map((e) => e.type)).toEqual(['agent_up', 'agent_down']);
    expect(store.listAgents().map((a) => [a.id, a.state])).toEqual([['quiet', 'down']]);
    store.close();
  });

  it('keeps working when Redis is unreachable', async () => {
    const store = openStore('c');
    const deadRedis = new Redis({ port: await freePort(), lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 0, retryStrategy: () => null });
    deadRedis.on('error', () => undefined);
    const registry = new AgentRegistry({ store, redis: deadRedis, keys: redisKeys('dead'), expectedIntervalMillis: 1_000 });
    registry.observe([resource('lonely')], 0);
    expect(registry.check(3_000)).toEqual(['lonely']);
    await registry.shutdown();
    expect(store.listAgents().map((a) => [a.id, a.state])).toEqual([['lonely', 'down']]);
    deadRedis.disconnect();
    store.close();
  });

  it('accepts a publish function instead of a client', async () => {
    const store = openStore('d');
    const sent: Array<[string, string[]]> = [];
    const registry = new AgentRegistry({
      store,
      redis: async (stream, fields) => {
        sent.push([stream, fields]);
        return Promise.resolve();
      },
      keys: redisKeys('fn'),
      expectedIntervalMillis: 1_000,
      downAfterIntervals: 2,
    });
    registry.observe([resource('x')], 0);
    expect(registry.check(1_999)).toEqual([]);
    expect(registry.check(2_000)).toEqual(['x']);
    await registry.shutdown();
    expect(sent.map(([stream, fields]) => [stream, decodeJsonMessage(fields, slothEventSchema).type])).toEqual([
      ['fn:events', 'agent_up'],
      ['fn:events', 'agent_down'],
    ]);
    store.close();
  });
});
