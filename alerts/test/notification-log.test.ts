import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { redisKeys } from '@sloth/core';
import { NotificationLog, type HistoryRecord } from '../src/index.js';
import { startPrivateRedis, type PrivateRedis } from './helpers.js';

describe('notification log writes batched into Redis', () => {
  let db: PrivateRedis;
  const keys = redisKeys('nflog-test');
  beforeAll(async () => {
    db = await startPrivateRedis('sloth-nflog-');
  });
  afterAll(async () => db.stop());

  const record = (i: number): HistoryRecord => ({ atMillis: i, receiver: 'team', groupKey: `g${i}`, groupLabels: {}, firing: [`fp${i}`], resolved: [], outcome: 'sent' });

  it('writes every entry and history record of one turn, newest history first, trimmed to 1,000, and a restart reads them back', async () => {
    const log = new NotificationLog({ redis: db.redis, keys });
    const writes: Array<Promise<void>> = [];
    for (let i = 0; i < 1500; i += 1) {
      writes.push(log.record('team', `g${i}`, { firing: [`fp${i}`], resolved: [], flapping: [], atMillis: 1000 + i }));
      writes.push(log.appendHistory(record(i)));
    }
    await Promise.all(writes);
    expect(await db.redis.hlen(keys.key('alerts', 'nflog'))).toBe(1500);
    // A later write for the same group replaces the entry.
    await log.record('team', 'g7', { firing: ['other'], resolved: [], flapping: [], atMillis: 5000 });
    await log.appendHistory(record(1500));
    const history = await log.history(2000);
    expect(history.length).toBe(1000);
    expect(history.slice(0, 3).map((h) => h.atMillis)).toEqual([1500, 1499, 1498]);
    expect(history.at(-1)?.atMillis).toBe(501);

    const restarted = new NotificationLog({ redis: db.redis, keys });
    await restarted.load(6000);
    expect(restarted.get('team', 'g7')?.firing).toEqual(['other']);
    expect(restarted.get('team', 'g1499')?.firing).toEqual(['fp1499']);
  });

  it('rejects every waiting writer when Redis refuses the batch', async () => {
    const log = new NotificationLog({ redis: db.redis, keys: redisKeys('nflog-wrongtype') });
    await db.redis.set(redisKeys('nflog-wrongtype').key('alerts', 'nflog'), 'not a hash');
    const a = log.record('team', 'g1', { firing: [], resolved: [], flapping: [], atMillis: 1 });
    const b = log.record('team', 'g2', { firing: [], resolved: [], flapping: [], atMillis: 1 });
    await expect(a).rejects.toThrow(/WRONGTYPE/);
    await expect(b).rejects.toThrow(/WRONGTYPE/);
  });
});
