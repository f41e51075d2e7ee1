import type { Redis } from 'ioredis';
import type { RedisKeys } from '@sloth/core';

/** One task's hold on an agent's resources. */
export interface Reservation {
  taskId: string;
  cpuCores: number;
  memoryMb: number;
  atMillis: number;
}

/**
 * Lua that reserves atomically against capacity and concurrency, so schedulers racing for the
 * same agent cannot both win the last slot, setting the local `reserved` to 'ok', 'exists',
 * 'concurrency', 'cpu' or 'memory'. `held` and `totals` are the reservations and totals hashes
 * (Lua expressions); ARGV[1..7] are task id, cpu cores, memory MB, cpu limit, memory limit,
 * concurrency limit and the reservation as JSON (see {@link reserveArgs}). Totals are kept beside
 * the reservations so a check is O(1), not a scan. Shared with the task store, whose submit-time
 * placement reserves and writes the placed record in one script.
 */
export function reserveLua(held: string, totals: string): string {
  return `
local reserved
if redis.call('HEXISTS', ${held}, ARGV[1]) == 1 then
  reserved = 'exists'
else
  local t = redis.call('HMGET', ${totals}, 'cpu', 'mem', 'count')
  local cpu, mem, count = tonumber(t[1] or '0'), tonumber(t[2] or '0'), tonumber(t[3] or '0')
  if count >= tonumber(ARGV[6]) then reserved = 'concurrency'
  elseif cpu + tonumber(ARGV[2]) > tonumber(ARGV[4]) + 1e-9 then reserved = 'cpu'
  elseif mem + tonumber(ARGV[3]) > tonumber(ARGV[5]) + 1e-9 then reserved = 'memory'
  else
    redis.call('HSET', ${held}, ARGV[1], ARGV[7])
    redis.call('HINCRBYFLOAT', ${totals}, 'cpu', ARGV[2])
    redis.call('HINCRBYFLOAT', ${totals}, 'mem', ARGV[3])
    redis.call('HINCRBY', ${totals}, 'count', 1)
    reserved = 'ok'
  end
end
`;
}

/** The first seven ARGV of a script built on {@link reserveLua}. */
export function reserveArgs(reservation: Reservation, limits: ReservationLimits): Array<string | number> {
  return [reservation.taskId, reservation.cpuCores, reservation.memoryMb, limits.cpuCores, limits.memoryMb, limits.maxConcurrent, JSON.stringify(reservation)];
}

const reserveScript = `${reserveLua('KEYS[1]', 'KEYS[2]')}
return reserved
`;

/**
 * Lua that releases task `taskId`'s reservation from the reservations hash `held` and its
 * totals hash `totals` (Lua expressions), setting the local `released` to 1 when there was one.
 * Shared with the task store, whose final update of a run releases in the same script.
 */
export function releaseLua(held: string, totals: string, taskId: string): string {
  return `
local released = 0
local text = redis.call('HGET', ${held}, ${taskId})
if text then
  local r = cjson.decode(text)
  redis.call('HDEL', ${held}, ${taskId})
  if redis.call('HLEN', ${held}) == 0 then
    redis.call('DEL', ${totals})
  else
    redis.call('HINCRBYFLOAT', ${totals}, 'cpu', -r.cpuCores)
    redis.call('HINCRBYFLOAT', ${totals}, 'mem', -r.memoryMb)
    redis.call('HINCRBY', ${totals}, 'count', -1)
  end
  released = 1
end
`;
}

const releaseScript = `${releaseLua('KEYS[1]', 'KEYS[2]', 'ARGV[1]')}
return released
`;

type LedgerRedis = Redis & {
  slothReserve(held: string, totals: string, ...args: Array<string | number>): Promise<string>;
  slothRelease(held: string, totals: string, taskId: string): Promise<number>;
};

/** An agent's capacity as a reservation is checked against it. */
export interface ReservationLimits {
  cpuCores: number;
  memoryMb: number;
  maxConcurrent: number;
}

export type ReserveOutcome = 'ok' | 'exists' | 'concurrency' | 'cpu' | 'memory';

/**
 * The reservations of every agent, in Redis (one hash per agent), shared by
 * all schedulers: placed tasks hold their CPU and memory until they finish.
 */
export class ReservationLedger {
  private readonly redis: Redis;
  private readonly keys: RedisKeys;

  constructor(redis: Redis, keys: RedisKeys) {
    this.redis = redis;
    this.keys = keys;
    // EVALSHA: the script text is sent once per connection, not with every call.
    if (!('slothReserve' in redis)) {
      redis.defineCommand('slothReserve', { numberOfKeys: 2, lua: reserveScript });
      redis.defineCommand('slothRelease', { numberOfKeys: 2, lua: releaseScript });
    }
  }

  /** The hash of an agent's reservation totals (cpu, mem, count), kept beside {@link ReservationLedger.holdsKey}. */
  totalsKey(agentId: string): string {
    return this.keys.key('placement', 'reserved-total', agentId);
  }

  /** The hash holding an agent's reservations, one field per task id (a task holds room there while the field exists). */
  holdsKey(agentId: string): string {
    return this.keys.key('placement', 'reservations', agentId);
  }

  private key(agentId: string): string {
    return this.holdsKey(agentId);
  }

  async reserve(agentId: string, reservation: Reservation, limits: ReservationLimits): Promise<ReserveOutcome> {
    const outcome = await (this.redis as LedgerRedis).slothReserve(this.key(agentId), this.totalsKey(agentId), ...reserveArgs(reservation, limits));
    return outcome as ReserveOutcome;
  }

  /** Releases a task's reservation; true when there was one. */
  async release(agentId: string, taskId: string): Promise<boolean> {
    return (await (this.redis as LedgerRedis).slothRelease(this.key(agentId), this.totalsKey(agentId), taskId)) > 0;
  }

  /** Reservations per agent, for the given agents (one round trip). */
  async byAgent(agentIds: readonly string[]): Promise<Map<string, Reservation[]>> {
    const pipeline = this.redis.pipeline();
    for (const id of agentIds) pipeline.hvals(this.key(id));
    const replies = (await pipeline.exec()) ?? [];
    const result = new Map<string, Reservation[]>();
    agentIds.forEach((id, index) => {
      const [error, values] = replies[index] ?? [null, []];
      if (error !== null) throw error;
      result.set(
        id,
        (values as string[]).map((text) => JSON.parse(text) as Reservation),
      );
    });
    return result;
  }

  private drainedKey(): string {
    return this.keys.key('placement', 'drained');
  }

  /** Marks an agent drained (no new placements) or undrained. */
  async setDrained(agentId: string, drained: boolean): Promise<void> {
    if (drained) await this.redis.sadd(this.drainedKey(), agentId);
    else await this.redis.srem(this.drainedKey(), agentId);
  }

  async drained(): Promise<Set<string>> {
    return new Set(await this.redis.smembers(this.drainedKey()));
  }
}
