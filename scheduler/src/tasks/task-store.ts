import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { RedisKeys } from '@sloth/core';
import { releaseLua, reserveArgs, reserveLua, type Reservation, type ReservationLimits, type ReserveOutcome } from '../placement/reservations.js';
import type { PlacementDecision, PlacementRequest } from '../placement/placer.js';
import { placementRequest, type TaskRecord, type TaskState } from './spec.js';

// A task hash holds `version`, `record` (the record without its placement decision) and
// `decision` (that decision as JSON): a run's start and end rewrite and re-read the record, not
// the decision, which is most of its size and changes only when the task is placed again.

// Writes a record (and its decision, when ARGV[6] is not '') only if its version is the expected
// one, so two schedulers updating one task cannot overwrite each other's change; keeps the index
// of runs on agents (task id → "agentId deadline") and the waiting set in the same step.
// Waiting set (ARGV[7]): 'wait' puts the task in it (KEYS[3] by ARGV[8], priority then wait start,
// kept from its first look; KEYS[4] its entry ARGV[9]; KEYS[5] its last look ARGV[10]),
// 'leave' takes it out, '' leaves the set alone (the task did not wait and does not).
// Pending set (ARGV[11], KEYS[6]): 'pend' adds a task that awaits a placement job (queued or
// retrying) at ARGV[12] unless it is there, 'unpend' takes out one that no longer does.
const casScript = `
local current = redis.call('HGET', KEYS[1], 'version')
if (current or '0') ~= ARGV[1] then return 0 end
if ARGV[6] ~= '' then
  redis.call('HSET', KEYS[1], 'version', ARGV[2], 'record', ARGV[3], 'decision', ARGV[6])
else
  redis.call('HSET', KEYS[1], 'version', ARGV[2], 'record', ARGV[3])
end
if ARGV[4] ~= '' then redis.call('HSET', KEYS[2], ARGV[5], ARGV[4]) else redis.call('HDEL', KEYS[2], ARGV[5]) end
if ARGV[7] == 'wait' then
  redis.call('ZADD', KEYS[3], 'NX', ARGV[8], ARGV[5])
  redis.call('HSET', KEYS[4], ARGV[5], ARGV[9])
  redis.call('ZADD', KEYS[5], ARGV[10], ARGV[5])
elseif ARGV[7] == 'leave' then
  redis.call('ZREM', KEYS[3], ARGV[5])
  redis.call('HDEL', KEYS[4], ARGV[5])
  redis.call('ZREM', KEYS[5], ARGV[5])
end
if ARGV[11] == 'pend' then
  redis.call('ZADD', KEYS[6], 'NX', ARGV[12], ARGV[5])
elseif ARGV[11] == 'unpend' then
  redis.call('ZREM', KEYS[6], ARGV[5])
end
return 1
`;

// The same, and then releases the task's reservation on an agent (KEYS[7] holds, KEYS[8] totals):
// a run's end is recorded and its room given back in one step. 2 when a reservation was released.
const casReleaseScript = `${casScript.replace(/return 1\s*$/, '')}
${releaseLua('KEYS[7]', 'KEYS[8]', 'ARGV[5]')}
return 1 + released
`;

// Reserves room for a placed task on its agent and, only when it was won, creates the task's
// record: one script, one round trip, and a lost race for the room writes nothing. With ARGV[12]
// (a waiting-set score, exclusive) it first refuses ('behind') while a task in the waiting set
// KEYS[6] ranks before that score: the check and the reservation are one step, on every scheduler.
// KEYS: task hash, index, runs index, the agent's reservations and totals hashes, waiting set.
// ARGV[1..7]: the reservation (reserveArgs); then record, created at, runs-index entry, decision, the score.
const createReservedScript = `
if ARGV[12] ~= '' and #redis.call('ZRANGEBYSCORE', KEYS[6], '-inf', '(' .. ARGV[12], 'LIMIT', 0, 1) > 0 then return 'behind' end
${reserveLua('KEYS[4]', 'KEYS[5]')}
if reserved ~= 'ok' and reserved ~= 'exists' then return reserved end
redis.call('HSET', KEYS[1], 'version', '1', 'record', ARGV[8], 'decision', ARGV[11])
redis.call('ZADD', KEYS[2], ARGV[9], ARGV[1])
redis.call('HSET', KEYS[3], ARGV[1], ARGV[10])
return reserved
`;

// The most urgent waiting tasks (score below ARGV[1], exclusive; at most ARGV[2]) with their
// entries (WaitingEntry), in one round trip: { id, score, … }, { entry, … }.
const waitingAheadScript = `
local ranked = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '(' .. ARGV[1], 'WITHSCORES', 'LIMIT', 0, tonumber(ARGV[2]))
if #ranked == 0 then return { ranked, {} } end
local ids = {}
for i = 1, #ranked, 2 do ids[#ids + 1] = ranked[i] end
return { ranked, redis.call('HMGET', KEYS[2], unpack(ids)) }
`;

// Takes task ARGV[1] out of the waiting set (KEYS[2..4]) unless its record (KEYS[1]) says it waits:
// tidies an entry without racing a scheduler that just made the task wait again. 1 when removed.
const dropWaitingScript = `
local text = redis.call('HGET', KEYS[1], 'record')
if text and cjson.decode(text).state == 'waiting' then return 0 end
return redis.call('ZREM', KEYS[2], ARGV[1]) + redis.call('HDEL', KEYS[3], ARGV[1]) + redis.call('ZREM', KEYS[4], ARGV[1])
`;

// The same for the pending set (KEYS[2]): task ARGV[1] leaves it unless its record (KEYS[1]) is in one of
// the states ARGV[2..] (pendingStates), so a check that read the record before a retry cannot take out the
// entry the retry just wrote.
const dropPendingScript = `
local text = redis.call('HGET', KEYS[1], 'record')
if text then
  local state = cjson.decode(text).state
  for i = 2, #ARGV do if state == ARGV[i] then return 0 end end
end
return redis.call('ZREM', KEYS[2], ARGV[1])
`;

/**
 * A task's rank in the waiting set: priority, then when it began to wait. 2^42 ms is 139 years
 * after 1970, so priority × 2^42 + wait start is an exact integer in a double for every priority
 * (≤ 1000 < 2^11) and the set sorts by both at once.
 */
export function waitingScore(priority: number, sinceMillis: number): number {
  return priority * 2 ** 42 + sinceMillis;
}

/**
 * What a waiting task's record says about its last look, in a few bytes (a hash of its reason and its
 * decision as stored): a look that would write the same need not write at all.
 */
export function waitingSeen(reason: string | null, decisionText: string): string {
  return createHash('sha1').update(`${reason ?? ''}\n${decisionText}`).digest('base64url').slice(0, 16);
}

/** A waiting task's entry: its placement request and what its record says ({@link waitingSeen}). */
export interface WaitingEntry {
  request: PlacementRequest;
  seen: string;
}

/** A task waiting for room, as every scheduler sees it in Redis. */
export interface WaitingTask {
  taskId: string;
  priority: number;
  /** When it began to wait (its first look that found nothing, or gave way). */
  sinceMillis: number;
  request: PlacementRequest;
}

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
  slothTaskCas(key: string, activeKey: string, waiting: string, entries: string, looked: string, pending: string, ...args: string[]): Promise<number>;
  slothTaskCasRelease(key: string, activeKey: string, waiting: string, entries: string, looked: string, pending: string, holds: string, totals: string, ...args: string[]): Promise<number>;
  slothTaskCreateReserved(key: string, index: string, active: string, holds: string, totals: string, waiting: string, ...args: Array<string | number>): Promise<ReserveOutcome | 'behind'>;
  slothTaskWaitingAhead(waiting: string, entries: string, below: string, limit: number): Promise<[string[], Array<string | null>]>;
  slothTaskDropWaiting(key: string, waiting: string, entries: string, looked: string, taskId: string): Promise<number>;
  slothTaskDropPending(key: string, pending: string, taskId: string, ...keepStates: string[]): Promise<number>;
};

/**
 * The waiting-set arguments of a record's write (ARGV[7..10] of the compare-and-set): in the set while
 * the record waits (its wait start kept from its first look, its last look renewed), out of it when it
 * stops waiting; no change otherwise.
 */
function waitingArgs(record: TaskRecord, waitedBefore: boolean, decisionText: string): [string, string, string, string] {
  if (record.state === 'waiting') {
    const entry: WaitingEntry = { request: placementRequest(record.spec, record.avoidAgents), seen: waitingSeen(record.reason, decisionText) };
    return ['wait', String(waitingScore(record.spec.priority, record.updatedAtMillis)), JSON.stringify(entry), String(record.updatedAtMillis)];
  }
  return [waitedBefore ? 'leave' : '', '', '', ''];
}

/** States in which a task awaits a placement job on the `tasks` queue (and is in the pending set). */
export const pendingStates: readonly TaskState[] = ['queued', 'retrying'];

/** The pending-set arguments of a record's write (ARGV[11..12] of the compare-and-set). */
function pendingArgs(record: TaskRecord, pendedBefore: boolean): [string, string] {
  if (pendingStates.includes(record.state)) return ['pend', String(record.updatedAtMillis)];
  return [pendedBefore ? 'unpend' : '', ''];
}

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
      redis.defineCommand('slothTaskCas', { numberOfKeys: 6, lua: casScript });
      redis.defineCommand('slothTaskCasRelease', { numberOfKeys: 8, lua: casReleaseScript });
      redis.defineCommand('slothTaskCreateReserved', { numberOfKeys: 6, lua: createReservedScript });
      redis.defineCommand('slothTaskWaitingAhead', { numberOfKeys: 2, lua: waitingAheadScript });
      redis.defineCommand('slothTaskDropWaiting', { numberOfKeys: 4, lua: dropWaitingScript });
      redis.defineCommand('slothTaskDropPending', { numberOfKeys: 2, lua: dropPendingScript });
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

  /**
   * The waiting set, shared by every scheduler: tasks in state `waiting`, by priority then wait start
   * ({@link waitingScore}), their entries ({@link WaitingEntry}), and when each last looked for room.
   * Written in the script that writes the record, so it holds exactly the waiting tasks.
   */
  private waitingKeys(): [order: string, entries: string, looked: string] {
    return [this.keys.key('task-waiting'), this.keys.key('task-waiting', 'entries'), this.keys.key('task-waiting', 'looked')];
  }

  /**
   * Tasks that await a placement job (queued or retrying) → when they began to (or were last found to have
   * one): written with the record, so a task whose job was never queued (its scheduler died between the
   * record and the job) or was lost is found ({@link TaskStore.pendingNotCheckedSince}).
   */
  private pendingKey(): string {
    return this.keys.key('task-pending');
  }

  /** Stores a new task's record (a queued task: in the pending set too). */
  async create(record: TaskRecord): Promise<void> {
    const text = recordText(record);
    const decisionText = JSON.stringify(record.decision);
    const multi = this.redis.multi().hset(this.key(record.id), 'version', '1', 'record', text, 'decision', decisionText).zadd(this.indexKey(), record.createdAtMillis, record.id);
    if (pendingStates.includes(record.state)) multi.zadd(this.pendingKey(), record.updatedAtMillis, record.id);
    await multi.exec();
    this.remember(record.id, { version: 1, text, decisionText });
  }

  /**
   * Reserves `reservation` in the hashes `hold` names (see ReservationLedger.holdsKey and
   * totalsKey) against `limits` and, only when the room was won ('ok', or 'exists': the task
   * already held it), creates `record`, a task with a run on that agent: one script, so a
   * lost race for the room writes nothing. Returns the reservation's outcome, or `behind` (nothing
   * reserved or written) when `behindScore` is given and a waiting task ranks before it.
   */
  async createReserved(
    record: TaskRecord,
    hold: { holdsKey: string; totalsKey: string },
    reservation: Reservation,
    limits: ReservationLimits,
    options: { behindScore?: number } = {},
  ): Promise<ReserveOutcome | 'behind'> {
    if (reservation.taskId !== record.id) throw new Error(`reservation of ${reservation.taskId} given with the record of ${record.id}`);
    const text = recordText(record);
    const decisionText = JSON.stringify(record.decision);
    const outcome = await (this.redis as StoreRedis).slothTaskCreateReserved(
      this.key(record.id),
      this.indexKey(),
      this.activeKey(),
      hold.holdsKey,
      hold.totalsKey,
      this.waitingKeys()[0],
      ...reserveArgs(reservation, limits),
      text,
      record.createdAtMillis,
      activeEntry(record),
      decisionText,
      options.behindScore === undefined ? '' : String(options.behindScore),
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
      const waitedBefore = record.state === 'waiting';
      const pendedBefore = pendingStates.includes(record.state);
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
      const args = [String(version), String(version + 1), text, activeEntry(record), id, decisionChanged ? (newDecisionText as string) : '', ...waitingArgs(record, waitedBefore, newDecisionText ?? 'null'), ...pendingArgs(record, pendedBefore)];
      const hold = holdOf?.(record);
      const redis = this.redis as StoreRedis;
      const [order, entries, looked] = this.waitingKeys();
      const saved =
        hold === undefined
          ? await redis.slothTaskCas(this.key(id), this.activeKey(), order, entries, looked, this.pendingKey(), ...args)
          : await redis.slothTaskCasRelease(this.key(id), this.activeKey(), order, entries, looked, this.pendingKey(), hold.holdsKey, hold.totalsKey, ...args);
      if (saved >= 1) {
        this.remember(id, { version: version + 1, text, decisionText: newDecisionText });
        return { record, released: saved === 2 };
      }
    }
    throw new Error(`task ${id} kept changing under this scheduler; giving up this update`);
  }

  /**
   * The most urgent waiting tasks ranked before `belowScore` (exclusive; see {@link waitingScore}), most
   * urgent first, at most `limit`: one round trip, no records read.
   */
  async waitingAhead(belowScore: number, limit: number): Promise<WaitingTask[]> {
    const [order, entries] = this.waitingKeys();
    const [ranked, texts] = await (this.redis as StoreRedis).slothTaskWaitingAhead(order, entries, String(belowScore), limit);
    const result: WaitingTask[] = [];
    for (let i = 0; i < ranked.length; i += 2) {
      const text = texts[i / 2];
      if (typeof text !== 'string') continue; // a rank without its entry: cannot happen (one script writes both), but costs nothing to skip
      const score = Number(ranked[i + 1]);
      const priority = Math.floor(score / 2 ** 42);
      result.push({ taskId: ranked[i] as string, priority, sinceMillis: score - priority * 2 ** 42, request: (JSON.parse(text) as WaitingEntry).request });
    }
    return result;
  }

  /** A task's entry in the waiting set; undefined when it does not wait. */
  async waitingEntry(id: string): Promise<WaitingEntry | undefined> {
    const text = await this.redis.hget(this.waitingKeys()[1], id);
    return text === null ? undefined : (JSON.parse(text) as WaitingEntry);
  }

  /** How many tasks wait (every scheduler's). */
  async waitingCount(): Promise<number> {
    return this.redis.zcard(this.waitingKeys()[0]);
  }

  /** Waiting tasks whose last look (or liveness check) is before `beforeMillis`, oldest first, at most `limit`. */
  async waitingNotLookedSince(beforeMillis: number, limit: number): Promise<string[]> {
    return this.redis.zrangebyscore(this.waitingKeys()[2], '-inf', `(${beforeMillis}`, 'LIMIT', 0, limit);
  }

  /** Marks a waiting task as checked at `atMillis` (its placement is alive, only slow), if it still waits. */
  async touchWaiting(id: string, atMillis: number): Promise<void> {
    await this.redis.zadd(this.waitingKeys()[2], 'XX', atMillis, id);
  }

  /** Takes a task out of the waiting set unless its record waits (a leftover entry). True when one was removed. */
  async dropWaiting(id: string): Promise<boolean> {
    const [order, entries, looked] = this.waitingKeys();
    return (await (this.redis as StoreRedis).slothTaskDropWaiting(this.key(id), order, entries, looked, id)) > 0;
  }

  /** Tasks awaiting a placement job (queued or retrying) not checked since `beforeMillis`, oldest first, at most `limit`. */
  async pendingNotCheckedSince(beforeMillis: number, limit: number): Promise<string[]> {
    return this.redis.zrangebyscore(this.pendingKey(), '-inf', `(${beforeMillis}`, 'LIMIT', 0, limit);
  }

  /** Marks a pending task as checked at `atMillis` (its placement job is alive), if it is still pending. */
  async touchPending(id: string, atMillis: number): Promise<void> {
    await this.redis.zadd(this.pendingKey(), 'XX', atMillis, id);
  }

  /** Takes a task out of the pending set unless its record awaits a placement job (a leftover entry). True when one was removed. */
  async dropPending(id: string): Promise<boolean> {
    return (await (this.redis as StoreRedis).slothTaskDropPending(this.key(id), this.pendingKey(), id, ...pendingStates)) > 0;
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
