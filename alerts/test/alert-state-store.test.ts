import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { redisKeys, silentLogger } from '@sloth/core';
import { AlertStateStore } from '../src/alert-state-store.js';
import { testAlert } from './stand-ins.js';
import { startPrivateRedis, type PrivateRedis } from './helpers.js';

describe('alerts state store', () => {
  let db: PrivateRedis;
  beforeAll(async () => {
    db = await startPrivateRedis('sloth-alert-state-');
  });
  afterAll(async () => db.stop());

  it('keeps the newest change when two batches fail in a row: an alert forgotten after it fired does not come back', async () => {
    const keys = redisKeys('state-race');
    const key = keys.key('alerts', 'active');
    const store = new AlertStateStore({ redis: db.redis, keys, logger: silentLogger() });
    // Every write fails while the key holds a string (WRONGTYPE), as during an outage.
    await db.redis.set(key, 'not a hash');
    const alert = testAlert({ alertname: 'HighCpu', agent: 'web-1' }, { source: 'alertmanager' });
    // A paused server (CLIENT PAUSE from another connection) answers both batches only after both were sent.
    const other = new Redis(db.url);
    await other.call('CLIENT', 'PAUSE', '300');
    store.saveAlert(alert);
    await new Promise((resolve) => setTimeout(resolve, 20)); // the first batch is on its way
    store.forgetAlert(alert);
    other.disconnect();
    await new Promise((resolve) => setTimeout(resolve, 400));
    await db.redis.del(key); // Redis is usable again
    await store.flush();
    expect(await db.redis.hlen(key)).toBe(0);
  });
});
