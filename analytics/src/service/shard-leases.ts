import type { Redis } from 'ioredis';
import type { Logger, RedisKeys } from '@sloth/core';

/** The shard a series belongs to: FNV-1a of its id, modulo the shard count. */
export function shardOf(seriesId: string, shards: number): number {
  if (shards <= 1) return 0;
  let hash = 0x811c9dc5;
  for (let i = 0; i < seriesId.length; i += 1) {
    hash ^= seriesId.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return (hash >>> 0) % shards;
}

/** The consumer group that reads shard `index` of the samples stream. */
export function shardGroup(group: string, index: number): string {
  return `${group}.s${index}`;
}

const renewScript = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) else return 0 end";
const releaseScript = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) else return 0 end";

export interface ShardLeasesOptions {
  redis: Redis;
  keys: RedisKeys;
  group: string;
  consumer: string;
  shards: number;
  /** Renewal period; leases and membership expire after 5 periods without renewal. */
  renewMillis: number;
  logger: Logger;
  /** Called when a shard's lease is won. */
  acquired: (index: number) => Promise<void>;
  /** Called when a shard is lost (lease expired) or before it is given up (rebalancing). */
  released: (index: number) => Promise<void>;
}

/**
 * Which shards of the samples stream this process reads. Every process of
 * the deployment heartbeats into a sorted set; each holds about
 * shards / processes leases (`SET NX PX`), renews them, gives extras up when
 * processes join and takes free ones when they leave or die.
 */
export class ShardLeases {
  private readonly owned = new Set<number>();
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = false;

  constructor(private readonly options: ShardLeasesOptions) {}

  /** Shards held now. */
  get held(): readonly number[] {
    return [...this.owned].sort((a, b) => a - b);
  }

  private get ttlMillis(): number {
    return this.options.renewMillis * 5;
  }

  private leaseKey(index: number): string {
    return this.options.keys.key('analytics', this.options.group, 'lease', String(index));
  }

  private get membersKey(): string {
    return this.options.keys.key('analytics', this.options.group, 'members');
  }

  async start(): Promise<void> {
    await this.tick();
    this.timer = setInterval(() => {
      if (this.running !== undefined) return;
      this.running = this.tick()
        .catch((error: unknown) => this.options.logger.warn({ err: error }, 'renewing shard leases failed; retrying'))
        .finally(() => {
          this.running = undefined;
        });
    }, this.options.renewMillis);
    this.timer.unref();
  }

  /** Lets every lease go (the caller has saved the shards' state) and leaves the membership. */
  async shutdown(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    await this.running;
    const { redis, consumer } = this.options;
    for (const index of this.owned) await redis.eval(releaseScript, 1, this.leaseKey(index), consumer);
    this.owned.clear();
    await redis.zrem(this.membersKey, consumer);
  }

  private async tick(): Promise<void> {
    if (this.stopped) return;
    const { redis, consumer, shards } = this.options;
    const now = Date.now();
    await redis.zadd(this.membersKey, now, consumer);
    await redis.zremrangebyscore(this.membersKey, '-inf', now - this.ttlMillis);
    const members = Math.max(1, await redis.zcard(this.membersKey));
    const target = Math.ceil(shards / members);

    for (const index of [...this.owned]) {
      const renewed = Number(await redis.eval(renewScript, 1, this.leaseKey(index), consumer, this.ttlMillis));
      if (renewed !== 1) {
        this.owned.delete(index);
        this.options.logger.warn({ shard: index }, 'lost the lease of a shard (not renewed in time)');
        await this.options.released(index);
      }
    }
    while (this.owned.size > target && !this.stopped) {
      const index = Math.max(...this.owned);
      // State first, lease second: the next holder must find the latest snapshots.
      await this.options.released(index);
      await redis.eval(releaseScript, 1, this.leaseKey(index), consumer);
      this.owned.delete(index);
    }
    for (let index = 0; index < shards && this.owned.size < target && !this.stopped; index += 1) {
      if (this.owned.has(index)) continue;
      const won = await redis.set(this.leaseKey(index), consumer, 'PX', this.ttlMillis, 'NX');
      if (won !== 'OK') continue;
      this.owned.add(index);
      await this.options.acquired(index);
    }
  }
}
