import type { Redis } from 'ioredis';
import type { RedisKeys } from '@sloth/core';
import { releaseLua, reserveArgs, reserveLua, type Reservation, type ReservationLimits, type ReserveOutcome } from '../placement/reservations.js';
import type { PlacementDecision } from '../placement/placer.js';
import type { TaskRecord, TaskState } from './spec.js';

// A task hash holds `version`, `record` (the record without its placement decision) and
// `decision` (that decision as JSON): a run's start and end rewrite and re-read the record, not
// the decision, which is most of its size and changes only when the task is placed again.

// Writes a record (and its decision, when ARGV[6] is not '') only if its version is the expected
// one, so two schedulers updating one task cannot overwrite each other's change; keeps the index
// of runs on agents (task id → "agentId deadline") in the same step.
const casScript = `
local current = redis.call('HGET', KEYS[1], 'version')
if (current or '0') ~= ARGV[1] then return 0 end
if ARGV[6] ~= '' then
  redis.call('HSET', KEYS[1], 'version', ARGV[2], 'record', ARGV[3], 'decision', ARGV[6])
else
  redis.call('HSET', KEYS[1], 'version', ARGV[2], 'record', ARGV[3])
end
if ARGV[4] ~= '' then redis.call('HSET', KEYS[2], ARGV[5], ARGV[4]) else redis.call('HDEL', KEYS[2], ARGV[5]) end
return 1
`;

// The same, and then releases the task's reservation on an agent (KEYS[3] holds, KEYS[4] totals):
// a run's end is recorded and its room given back in one step. 2 when a reservation was released.
const casReleaseScript = `${casScript.replace(/return 1\s*$/, '')}
${releaseLua('KEYS[3]', 'KEYS[4]', 'ARGV[5]')}
return 1 + released
`;

// Reserves room for a placed task on its agent and, only when it was won, creates the task's
// record: one script, one round trip, and a lost race for the room writes nothing.
// KEYS: task hash, index, runs index, the agent's reservations and totals hashes.
// ARGV[1..7]: the reservation (reserveArgs); then record, created at, runs-index entry, decision.
const createReservedScript = `${reserveLua('KEYS[4]', 'KEYS[5]')}
if reserved ~= 'ok' and reserved ~= 'exists' then return reserved end
redis.call('HSET', KEYS[1], 'version', '1', 'record', ARGV[8], 'decision', ARGV[11])
redis.call('ZADD', KEYS[2], ARGV[9], ARGV[1])
redis.call('HSET', KEYS[3], ARGV[1], ARGV[10])
return reserved
`;

/** A task with a run on an agent, as the down-agent and timeout check sees it without reading the record. */
export interface ActiveRun {
  taskId: string;
  agentId: string;
  /** When the run's timeout passes: its start (or placement, until it starts) plus the task's timeout. */
  deadlineMillis: number;
}

/** The runs-index entry of a record: "agentId deadline" while it has a run on an agent, else ''. */
function activeEntry(record: TaskRecord): string {
  if (record.state !== 'placed' && record.state !== 'running') return '';
  const attempt = record.attempts.find((a) => a.outcome === null);
  if (attempt === undefined) return '';
  return `${attempt.agentId} ${(attempt.startedAtMillis ?? attempt.placedAtMillis) + record.spec.timeoutSeconds * 1000}`;
}

type StoreRedis = Redis & {
  slothTaskCas(key: string, activeKey: string, ...args: string[]): Promise<number>;
  slothTaskCasRelease(key: string, activeKey: string, holds: string, totals: string, ...args: string[]): Promise<number>;
  slothTaskCreateReserved(key: string, index: string, active: string, holds: string, totals: string, ...args: Array<string | number>): Promise<ReserveOutcome>;
};

/** Records whose last written version this process keeps, to update them without reading them first. */
const cachedRecords = 10_000;

/** A record as stored: its `record` text (no decision) and its `decision` text (null: a record written before the split, whose text holds its decision). */
interface StoredRecord {
  version: number;
  text: string;
  decisionText: string | null;
}

/** The `record` field of a task: every field but the decision (a field added to TaskRecord must be added here, or this does not compile). */
function recordText(r: TaskRecord): string {
  const fields: { [K in Exclude<keyof TaskRecord, 'decision'>]: TaskRecord[K] } = {
    id: r.id,
    spec: r.spec,
    state: r.state,
    submittedBy: r.submittedBy,
    createdAtMillis: r.createdAtMillis,
    updatedAtMillis: r.updatedAtMillis,
    reason: r.reason,
    attempts: r.attempts,
    avoidAgents: r.avoidAgents,
  };
  return JSON.stringify(fields);
}

/** A whole record from its stored fields. */
function readRecord(stored: StoredRecord): TaskRecord {
  const record = JSON.parse(stored.text) as TaskRecord;
  if (stored.decisionText !== null) record.decision = JSON.parse(stored.decisionText) as PlacementDecision | null;
  else record.decision ??= null;
  return record;
}

/** Task records in Redis: one hash per task plus a time index, shared by every scheduler (never under `<prefix>:tasks:`, which is BullMQ's queue). */
export class TaskStore {
  private readonly redis: Redis;
  private readonly keys: RedisKeys;
  /** Records this process read or wrote lately, as stored (oldest first); a stale entry only costs a failed compare-and-set. */
  private readonly recent = new Map<string, StoredRecord>();

  constructor(redis: Redis, keys: RedisKeys) {
    this.redis = redis;
    this.keys = keys;
    if (!('slothTaskCas' in redis)) {
      redis.defineCommand('slothTaskCas', { numberOfKeys: 2, lua: casScript });
      redis.defineCommand('slothTaskCasRelease', { numberOfKeys: 4, lua: casReleaseScript });
      redis.defineCommand('slothTaskCreateReserved', { numberOfKeys: 5, lua: createReservedScript });
    }
  }

  private remember(id: string, stored: StoredRecord): void {
    this.recent.delete(id);
    this.recent.set(id, stored);
    if (this.recent.size > cachedRecords) this.recent.delete(this.recent.keys().next().value as string);
  }

  private key(id: string): string {
    return this.keys.key('task', id);
  }

  private indexKey(): string {
    return this.keys.key('task-index');
  }

  /** Tasks with a run on an agent (placed or running) → "agentId deadline", for the down-agent and timeout checks. */
  private activeKey(): string {
    return this.keys.key('task-runs');
  }

  async create(record: TaskRecord): Promise<void> {
    const text = recordText(record);
    const decisionText = JSON.stringify(record.decision);
    await this.redis.multi().hset(this.key(record.id), 'version', '1', 'record', text, 'decision', decisionText).zadd(this.indexKey(), record.createdAtMillis, record.id).exec();
    this.remember(record.id, { version: 1, text, decisionText });
  }

  /**
   * Reserves `reservation` in the hashes `hold` names (see ReservationLedger.holdsKey and
   * totalsKey) against `limits` and, only when the room was won ('ok', or 'exists': the task
   * already held it), creates `record`, a task with a run on that agent: one script, so a
   * lost race for the room writes nothing. Returns the reservation's outcome.
   */
  async createReserved(record: TaskRecord, hold: { holdsKey: string; totalsKey: string }, reservation: Reservation, limits: ReservationLimits): Promise<ReserveOutcome> {
    if (reservation.taskId !== record.id) throw new Error(`reservation of ${reservation.taskId} given with the record of ${record.id}`);
    const text = recordText(record);
    const decisionText = JSON.stringify(record.decision);
    const outcome = await (this.redis as StoreRedis).slothTaskCreateReserved(
      this.key(record.id),
      this.indexKey(),
      this.activeKey(),
      hold.holdsKey,
      hold.totalsKey,
      ...reserveArgs(reservation, limits),
      text,
      record.createdAtMillis,
      activeEntry(record),
      decisionText,
    );
    if (outcome === 'ok' || outcome === 'exists') this.remember(record.id, { version: 1, text, decisionText });
    return outcome;
  }

  private async read(id: string): Promise<StoredRecord | undefined> {
    const [version, text, decisionText] = await this.redis.hmget(this.key(id), 'version', 'record', 'decision');
    if (text === null || text === undefined) return undefined;
    const stored = { version: Number(version ?? '0'), text, decisionText: decisionText ?? null };
    this.remember(id, stored);
    return stored;
  }

  async get(id: string): Promise<TaskRecord | undefined> {
    const stored = await this.read(id);
    return stored === undefined ? undefined : readRecord(stored);
  }

  /**
   * Applies `change` to the stored record and saves it, re-reading and
   * re-applying when another writer got there first. Returns the saved
   * record, or undefined when the task does not exist or `change` returned false.
   */
  async update(id: string, change: (record: TaskRecord) => boolean | void): Promise<TaskRecord | undefined> {
    return (await this.write(id, change)).record;
  }

  /**
   * {@link TaskStore.update}, and in the same script (one round trip, atomic with the write) the
   * release of the task's reservation in the hashes `holdOf` names for the changed record, if any
   * (see ReservationLedger.holdsKey and totalsKey). `released`: a reservation was held and is gone.
   */
  async updateReleasing(id: string, change: (record: TaskRecord) => boolean | void, holdOf: (record: TaskRecord) => { holdsKey: string; totalsKey: string } | undefined): Promise<{ record: TaskRecord | undefined; released: boolean }> {
    return this.write(id, change, holdOf);
  }

  private async write(id: string, change: (record: TaskRecord) => boolean | void, holdOf?: (record: TaskRecord) => { holdsKey: string; totalsKey: string } | undefined): Promise<{ record: TaskRecord | undefined; released: boolean }> {
    // The first try starts from the version this process last saw (no read); a compare-and-set
    // that fails because another writer moved on reads the record and tries again.
    const cached = this.recent.get(id);
    let known: (StoredRecord & { fresh: boolean }) | undefined = cached === undefined ? undefined : { ...cached, fresh: false };
    for (let tries = 0; tries < 10; tries += 1) {
      if (known === undefined) {
        const stored = await this.read(id);
        if (stored === undefined) return { record: undefined, released: false };
        known = { ...stored, fresh: true };
      }
      const { version, fresh, decisionText } = known;
      const record = JSON.parse(known.text) as TaskRecord;
      known = undefined;
      // The decision is parsed only if `change` reads it, and written only if it sets it (or the
      // record predates the split and still holds it in its text).
      let decision: PlacementDecision | null | undefined = decisionText === null ? (record.decision ?? null) : undefined;
      let decisionChanged = decisionText === null;
      Object.defineProperty(record, 'decision', {
        enumerable: true,
        configurable: true,
        get: () => (decision ??= JSON.parse(decisionText as string) as PlacementDecision | null),
        set: (value: PlacementDecision | null) => {
          decision = value;
          decisionChanged = true;
        },
      });
      // A refusal is only trusted on what Redis holds now: the cached copy may lack another scheduler's change.
      if (change(record) === false) {
        if (fresh) return { record: undefined, released: false };
        continue;
      }
      const text = recordText(record);
      const newDecisionText = decisionChanged ? JSON.stringify(decision ?? null) : decisionText;
      const args = [String(version), String(version + 1), text, activeEntry(record), id, decisionChanged ? (newDecisionText as string) : ''];
      const hold = holdOf?.(record);
      const redis = this.redis as StoreRedis;
      const saved = hold === undefined ? await redis.slothTaskCas(this.key(id), this.activeKey(), ...args) : await redis.slothTaskCasRelease(this.key(id), this.activeKey(), hold.holdsKey, hold.totalsKey, ...args);
      if (saved >= 1) {
        this.remember(id, { version: version + 1, text, decisionText: newDecisionText });
        return { record, released: saved === 2 };
      }
    }
    throw new Error(`task ${id} kept changing under this scheduler; giving up this update`);
  }

  /** Runs on agents (one read, no records). */
  async active(): Promise<ActiveRun[]> {
    const entries = await this.redis.hgetall(this.activeKey());
    return Object.entries(entries).map(([taskId, value]) => {
      const [agentId = '', deadline = '0'] = value.split(' ');
      return { taskId, agentId, deadlineMillis: Number(deadline) };
    });
  }

  /** Newest first, optionally only in one state. */
  async list(filter: { state?: TaskState | undefined; limit: number }): Promise<TaskRecord[]> {
    const result: TaskRecord[] = [];
    let offset = 0;
    while (result.length < filter.limit) {
      const ids = await this.redis.zrevrange(this.indexKey(), offset, offset + 199);
      if (ids.length === 0) break;
      offset += ids.length;
      const pipeline = this.redis.pipeline();
      for (const id of ids) pipeline.hmget(this.key(id), 'record', 'decision');
      for (const [error, fields] of (await pipeline.exec()) ?? []) {
        const [text, decisionText] = (fields ?? []) as Array<string | null>;
        if (error !== null || typeof text !== 'string') continue;
        const record = readRecord({ version: 0, text, decisionText: decisionText ?? null });
        if (filter.state === undefined || record.state === filter.state) result.push(record);
        if (result.length >= filter.limit) break;
      }
    }
    return result;
  }
}
