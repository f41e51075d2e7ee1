import type { Redis } from 'ioredis';
import type { RedisKeys } from '@sloth/core';

/** One task's hold on an agent's resources. */
export interface Reservation {
  taskId: string;
  cpuCores: number;
  memoryMb: number;
  atMillis: number;
}

// Reserves atomically against capacity and concurrency, so schedulers racing for
// the same agent cannot both win the last slot. Returns 'ok', 'exists' or the limit hit.
const reserveScript = `
local fields = redis.call('HGETALL', KEYS[1])
local cpu, mem, count = 0, 0, 0
for i = 1, #fields, 2 do
  if fields[i] == ARGV[1] then return 'exists' end
  local r = cjson.decode(fields[i + 1])
  cpu = cpu + r.cpuCores
  mem = mem + r.memoryMb
  count = count + 1
end
if count >= tonumber(ARGV[6]) then return 'concurrency' end
if cpu + tonumber(ARGV[2]) > tonumber(ARGV[4]) + 1e-9 then return 'cpu' end
if mem + tonumber(ARGV[3]) > tonumber(ARGV[5]) + 1e-9 then return 'memory' end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[7])
return 'ok'
`;

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
  }

  private key(agentId: string): string {
    return this.keys.key('placement', 'reservations', agentId);
  }

  async reserve(agentId: string, reservation: Reservation, limits: { cpuCores: number; memoryMb: number; maxConcurrent: number }): Promise<ReserveOutcome> {
    const outcome = await this.redis.eval(
      reserveScript,
      1,
      this.key(agentId),
      reservation.taskId,
      reservation.cpuCores,
      reservation.memoryMb,
      limits.cpuCores,
      limits.memoryMb,
      limits.maxConcurrent,
      JSON.stringify(reservation),
    );
    return outcome as ReserveOutcome;
  }

  /** Releases a task's reservation; true when there was one. */
  async release(agentId: string, taskId: string): Promise<boolean> {
    return (await this.redis.hdel(this.key(agentId), taskId)) > 0;
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
