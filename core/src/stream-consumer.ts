import type { Redis } from 'ioredis';
import type { Logger } from './logger.js';
import { silentLogger } from './logger.js';

/** One Redis stream entry as ioredis returns it: id and flat field/value list. */
export type StreamEntry = [id: string, fields: string[]];

/** Where an entry came from, handed to the handler with it. */
export interface StreamDelivery {
  stream: string;
  /** True when the entry was claimed from a dead consumer or is a redelivery of this one's pending entries. */
  redelivered: boolean;
}

/**
 * Counters of a consumer, for `/metrics`. Every method is optional: a role
 * wires the ones it exports. Kept tiny so core does not pick a metrics library
 * for its callers.
 */
export interface StreamConsumerMetrics {
  delivered?(stream: string, count: number): void;
  acknowledged?(stream: string, count: number): void;
  /** A handler failed on an entry; it stays pending and is retried. */
  failed?(stream: string, count: number): void;
  /** An entry was given up (undecodable or failed `maxAttempts` times), dead-lettered and acknowledged. */
  poisoned?(stream: string, count: number): void;
  claimed?(stream: string, count: number): void;
  /** A read failed (Redis down, group gone); the loop backs off and retries. */
  readFailed?(): void;
  groupRecreated?(stream: string): void;
}

/** Throw this from a handler when an entry can never succeed (it cannot be decoded): it is dead-lettered at once. */
export class PoisonEntryError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'PoisonEntryError';
  }
}

export interface StreamConsumerOptions {
  /** A connection of its own: XREADGROUP/XREAD blocks it. It is disconnected if shutdown cannot wait. */
  redis: Redis;
  streams: readonly string[];
  /**
   * Consumer group mode (load shared between consumers). Without it the consumer follows every entry
   * with XREAD from `cursor` (each process sees everything).
   */
  group?: {
    name: string;
    consumer: string;
    /**
     * Where a group created for the first time starts: `0` (everything in the stream) or `$` (only new
     * entries). A group that vanished (Redis restarted without its data) is always recreated at the last
     * id this consumer acknowledged, or `0`, never at `$`: entries written since the restart are not skipped.
     * @defaultValue '0'
     */
    createAt?: '0' | '$';
  };
  /** Follow mode: the position to start after, and where to keep it as it advances. */
  cursor?: { load(stream: string): string | undefined; save(stream: string, id: string): void };
  /**
   * Handles a batch of entries of one stream, in stream order. Entries are acknowledged only after it
   * resolves (unless `handlerAcknowledges`). When it throws, every entry of the batch is retried, one
   * by one, so a single bad entry is found and counted.
   */
  handle(entries: readonly StreamEntry[], delivery: StreamDelivery): Promise<void>;
  /**
   * The handler acknowledges itself (e.g. together with its output in one MULTI); the consumer then
   * only tracks positions. @defaultValue false
   */
  handlerAcknowledges?: boolean;
  logger?: Logger;
  metrics?: StreamConsumerMetrics;
  /** Entries per read; a function is asked before every read. @defaultValue 100 */
  count?: number | (() => number);
  /** @defaultValue 1000 */
  blockMillis?: number;
  /** Entries pending this long on another consumer are claimed. @defaultValue 30000 */
  claimIdleMillis?: number;
  /** How often to look for such entries. @defaultValue claimIdleMillis / 2 */
  claimIntervalMillis?: number;
  /** Idle time of the first claim only: 0 takes over at once what a consumer known to be gone left pending. */
  firstClaimIdleMillis?: number;
  /** Failures of one entry before it is dead-lettered. @defaultValue 5 */
  maxAttempts?: number;
  /** Stream given-up entries are copied to (with `error`, `source`, `entryId` fields); unset: log only. */
  deadLetterStream?: string;
  /** Called before each read (e.g. to retry output a handler left unpublished); a throw counts as a failed read. */
  beforeRead?: () => Promise<void>;
  /** Back-off after a failed read, doubled up to `maxBackoffMillis`. @defaultValue 100 */
  minBackoffMillis?: number;
  /** @defaultValue 5000 */
  maxBackoffMillis?: number;
}

interface Counts {
  delivered: number;
  acknowledged: number;
  failed: number;
  poisoned: number;
  claimed: number;
  readFailures: number;
  groupsRecreated: number;
}

/**
 * Reads Redis streams with a consumer group (or follows them with XREAD): this consumer's pending
 * entries first, then new ones; claims what dead consumers left pending; acknowledges an entry only
 * after its handler succeeded; dead-letters poison entries; recreates a vanished group without
 * skipping entries; backs off while Redis is down; stops within a bound.
 */
export class StreamConsumer {
  private readonly options: StreamConsumerOptions;
  private readonly logger: Logger;
  private running = false;
  private loop: Promise<void> | undefined;
  /** Per stream: the id to read from next in follow mode, or the last acknowledged id in group mode. */
  private readonly positions = new Map<string, string>();
  private readonly attempts = new Map<string, number>();
  private readonly claimCursors = new Map<string, string>();
  /** True until this consumer's own pending entries were read again (start, and after a failure). */
  private readPendingFirst = true;
  /** Per stream: where the read of this consumer's pending entries goes on from. */
  private readonly pendingCursors = new Map<string, string>();
  private nextClaimMillis = 0;
  private backoffMillis = 0;
  private wake: (() => void) | undefined;
  readonly counts: Counts = { delivered: 0, acknowledged: 0, failed: 0, poisoned: 0, claimed: 0, readFailures: 0, groupsRecreated: 0 };

  constructor(options: StreamConsumerOptions) {
    if (options.streams.length === 0) throw new Error('StreamConsumer needs at least one stream');
    this.options = options;
    this.logger = options.logger ?? silentLogger();
    for (const stream of options.streams) this.positions.set(stream, options.cursor?.load(stream) ?? '0');
  }

  /** Creates the groups (MKSTREAM) and starts reading. Throws when Redis cannot be reached at start. */
  async start(): Promise<void> {
    if (this.running) return;
    const group = this.options.group;
    if (group !== undefined) for (const stream of this.options.streams) await this.createGroup(stream, group.createAt ?? '0');
    else if (this.options.cursor === undefined) await this.resolveFollowStart();
    this.running = true;
    this.loop = this.run().catch((error: unknown) => {
      this.running = false;
      this.logger.error({ err: error, streams: this.options.streams }, 'stream consumer stopped on an unexpected error');
    });
  }

  /** Stops reading; waits for the batch in hand at most `waitMillis`, then cuts the connection. */
  async shutdown(waitMillis = 5_000): Promise<void> {
    this.running = false;
    this.wake?.();
    if (this.loop === undefined) return;
    let timer: NodeJS.Timeout | undefined;
    const timedOut = await Promise.race([
      this.loop.then(() => false),
      new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(true), waitMillis))),
    ]);
    clearTimeout(timer);
    if (timedOut) {
      this.logger.warn({ streams: this.options.streams, waitMillis }, 'stream consumer did not stop in time; disconnecting it');
      this.options.redis.disconnect();
      // A read blocked on the connection fails now; a handler that never returns is left behind.
      await Promise.race([this.loop, new Promise<void>((resolve) => (timer = setTimeout(resolve, 1_000)))]);
      clearTimeout(timer);
    }
  }

  private async run(): Promise<void> {
    while (this.running) {
      try {
        await this.options.beforeRead?.();
        if (this.options.group !== undefined && Date.now() >= this.nextClaimMillis) {
          const idle = this.options.claimIdleMillis ?? 30_000;
          const first = this.nextClaimMillis === 0;
          this.nextClaimMillis = Date.now() + (this.options.claimIntervalMillis ?? idle / 2);
          await this.claimAbandoned(first ? (this.options.firstClaimIdleMillis ?? idle) : idle);
        }
        await this.readOnce();
        this.backoffMillis = 0;
      } catch (error) {
        if (!this.running) return;
        await this.recover(error);
      }
    }
  }

  private async recover(error: unknown): Promise<void> {
    this.readPendingFirst = true;
    this.pendingCursors.clear();
    const handlerFailed = error instanceof HandlerFailedError;
    if (!handlerFailed) {
      this.counts.readFailures += 1;
      this.options.metrics?.readFailed?.();
    }
    const message = String((error as Error).message);
    const group = this.options.group;
    let recreateFailed = false;
    if (group !== undefined && message.includes('NOGROUP')) {
      for (const stream of this.options.streams) {
        // After a Redis restart that lost the group: resume after what was acknowledged, not at the end.
        const at = this.positions.get(stream) ?? '0';
        const created = await this.createGroup(stream, at).catch(() => {
          recreateFailed = true;
          return false;
        });
        if (created) {
          this.counts.groupsRecreated += 1;
          this.options.metrics?.groupRecreated?.(stream);
          this.logger.warn({ stream, group: group.name, at }, 'consumer group was missing (Redis restarted without it?); recreated it');
        }
      }
      // Recreated (or someone else did): read again at once. Redis still loading: back off like any failure.
      if (!recreateFailed) return;
    }
    const min = this.options.minBackoffMillis ?? 100;
    this.backoffMillis = Math.min(this.options.maxBackoffMillis ?? 5_000, this.backoffMillis === 0 ? min : this.backoffMillis * 2);
    // Redis down: one line per back-off step reaching the cap, not one a retry.
    if (!handlerFailed && (this.backoffMillis < (this.options.maxBackoffMillis ?? 5_000) || this.counts.readFailures % 10 === 1)) {
      this.logger.warn({ err: error, streams: this.options.streams, retryInMillis: this.backoffMillis }, 'reading the stream failed; retrying');
    }
    await this.sleep(this.backoffMillis);
  }

  /** True when the group was created, false when it existed already. */
  private async createGroup(stream: string, at: string): Promise<boolean> {
    try {
      await this.options.redis.xgroup('CREATE', stream, this.options.group!.name, at, 'MKSTREAM');
      return true;
    } catch (error) {
      if (String((error as Error).message).includes('BUSYGROUP')) return false;
      throw error;
    }
  }

  /** Follow mode without a saved cursor: start after the stream's current last entry. */
  private async resolveFollowStart(): Promise<void> {
    for (const stream of this.options.streams) {
      const last = (await this.options.redis.xrevrange(stream, '+', '-', 'COUNT', 1)) as StreamEntry[];
      this.positions.set(stream, last[0]?.[0] ?? '0');
    }
  }

  private count(): number {
    const count = this.options.count;
    return Math.max(1, typeof count === 'function' ? count() : (count ?? 100));
  }

  private async readOnce(): Promise<void> {
    const { redis, streams, group } = this.options;
    const blockMillis = this.options.blockMillis ?? 1_000;
    let reply: Array<[string, StreamEntry[]]> | null;
    const pendingFirst = group !== undefined && this.readPendingFirst;
    if (group === undefined) {
      const ids = streams.map((s) => this.positions.get(s)!);
      reply = (await redis.xread('COUNT', this.count(), 'BLOCK', blockMillis, 'STREAMS', ...streams, ...ids));
    } else if (pendingFirst) {
      const ids = streams.map((s) => this.pendingCursors.get(s) ?? '0');
      reply = (await redis.xreadgroup('GROUP', group.name, group.consumer, 'COUNT', this.count(), 'STREAMS', ...streams, ...ids)) as typeof reply;
    } else {
      reply = (await redis.xreadgroup(
        'GROUP', group.name, group.consumer, 'COUNT', this.count(), 'BLOCK', blockMillis, 'STREAMS', ...streams, ...streams.map(() => '>'),
      )) as typeof reply;
    }
    let delivered = 0;
    for (const [stream, raw] of reply ?? []) {
      // A pending entry whose data was trimmed away comes back with null fields: nothing to handle.
      const entries = raw.filter((e) => Array.isArray(e[1]));
      const gone = raw.filter((e) => !Array.isArray(e[1])).map(([id]) => id);
      if (gone.length > 0 && group !== undefined) await redis.xack(stream, group.name, ...gone);
      delivered += raw.length;
      if (pendingFirst && raw.length > 0) this.pendingCursors.set(stream, raw[raw.length - 1]![0]);
      if (entries.length > 0) await this.process(stream, entries, pendingFirst);
    }
    // Own pending entries are drained when a read of them brings none (each handled one is acked or dead-lettered).
    if (pendingFirst && delivered === 0) {
      this.readPendingFirst = false;
      this.pendingCursors.clear();
    }
  }

  private async claimAbandoned(minIdleMillis: number): Promise<void> {
    const group = this.options.group!;
    for (const stream of this.options.streams) {
      for (let round = 0; round < 100 && this.running; round += 1) {
        const cursor = this.claimCursors.get(stream) ?? '0-0';
        const reply = (await this.options.redis.xautoclaim(stream, group.name, group.consumer, minIdleMillis, cursor, 'COUNT', this.count())) as [
          string,
          Array<StreamEntry | null>,
          string[]?,
        ];
        const [next, claimed, deleted] = reply;
        this.claimCursors.set(stream, next);
        if (deleted !== undefined && deleted.length > 0) await this.options.redis.xack(stream, group.name, ...deleted);
        const entries = claimed.filter((e): e is StreamEntry => e !== null && Array.isArray(e[1]));
        if (entries.length > 0) {
          this.counts.claimed += entries.length;
          this.options.metrics?.claimed?.(stream, entries.length);
          this.logger.info({ stream, group: group.name, count: entries.length }, 'claimed entries a dead consumer left pending');
          await this.process(stream, entries, true);
        }
        if (next === '0-0') break;
      }
    }
  }

  private async process(stream: string, entries: readonly StreamEntry[], redelivered: boolean): Promise<void> {
    this.counts.delivered += entries.length;
    this.options.metrics?.delivered?.(stream, entries.length);
    // Only the handler's own failures count against an entry: an XACK that fails (Redis gone) is a read failure.
    const batchError = await this.tryHandle(entries, { stream, redelivered });
    if (batchError === undefined) {
      await this.handled(stream, entries.map(([id]) => id));
      return;
    }
    if (entries.length === 1) {
      await this.failed(stream, entries[0]!, batchError.error);
      return;
    }
    // The batch failed: one by one, so only the entries that fail are retried or dead-lettered.
    for (const entry of entries) {
      const entryError = await this.tryHandle([entry], { stream, redelivered: true });
      if (entryError === undefined) await this.handled(stream, [entry[0]]);
      else await this.failed(stream, entry, entryError.error);
    }
  }

  private async tryHandle(entries: readonly StreamEntry[], delivery: StreamDelivery): Promise<{ error: unknown } | undefined> {
    try {
      await this.options.handle(entries, delivery);
      return undefined;
    } catch (error) {
      return { error };
    }
  }

  private async handled(stream: string, ids: readonly string[]): Promise<void> {
    if (ids.length === 0) return;
    const group = this.options.group;
    if (group !== undefined && this.options.handlerAcknowledges !== true) await this.options.redis.xack(stream, group.name, ...ids);
    for (const id of ids) this.attempts.delete(`${stream}/${id}`);
    this.advance(stream, ids[ids.length - 1]!);
    this.counts.acknowledged += ids.length;
    this.options.metrics?.acknowledged?.(stream, ids.length);
  }

  private advance(stream: string, id: string): void {
    if (compareIds(id, this.positions.get(stream) ?? '0') <= 0) return;
    this.positions.set(stream, id);
    this.options.cursor?.save(stream, id);
  }

  private async failed(stream: string, entry: StreamEntry, error: unknown): Promise<void> {
    const key = `${stream}/${entry[0]}`;
    const attempts = (this.attempts.get(key) ?? 0) + 1;
    const poison = error instanceof PoisonEntryError || attempts >= (this.options.maxAttempts ?? 5);
    if (!poison) {
      this.attempts.set(key, attempts);
      this.counts.failed += 1;
      this.options.metrics?.failed?.(stream, 1);
      this.logger.warn({ err: error, stream, entryId: entry[0], attempts }, 'handling a stream entry failed; it stays pending and is retried');
      // The loop backs off, then reads this consumer's pending entries (or the follow position) again.
      throw new HandlerFailedError(error);
    }
    this.attempts.delete(key);
    const reason = error instanceof Error ? error.message : String(error);
    this.logger.error({ stream, entryId: entry[0], attempts, reason, deadLetterStream: this.options.deadLetterStream }, 'giving up on a stream entry; dead-lettered and acknowledged');
    if (this.options.deadLetterStream !== undefined) {
      await this.options.redis.xadd(this.options.deadLetterStream, 'MAXLEN', '~', 10_000, '*', 'source', stream, 'entryId', entry[0], 'error', reason.slice(0, 2_000), ...entry[1]);
    }
    const group = this.options.group;
    if (group !== undefined) await this.options.redis.xack(stream, group.name, entry[0]);
    this.advance(stream, entry[0]);
    this.counts.poisoned += 1;
    this.options.metrics?.poisoned?.(stream, 1);
  }

  private async sleep(millis: number): Promise<void> {
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, millis);
      this.wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
    this.wake = undefined;
  }
}

/** A handler failure already logged and counted; the loop only backs off. */
class HandlerFailedError extends Error {
  constructor(cause: unknown) {
    super('a stream entry handler failed', { cause });
  }
}

/** Orders stream ids (`ms-seq`); `$`/`0` compare as their obvious positions. */
export function compareIds(a: string, b: string): number {
  const [am = 0, as = 0] = a.split('-').map(Number);
  const [bm = 0, bs = 0] = b.split('-').map(Number);
  return am === bm ? as - bs : am - bm;
}
