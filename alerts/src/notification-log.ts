import type { Redis } from 'ioredis';
import type { RedisKeys } from '@sloth/core';

/** What was last notified for one group to one receiver. */
export interface NotificationEntry {
  readonly firing: readonly string[];
  readonly resolved: readonly string[];
  readonly flapping: readonly string[];
  readonly atMillis: number;
}

/** One line of the notification history (`sloth alerts history`). */
export interface HistoryRecord {
  readonly atMillis: number;
  readonly receiver: string;
  readonly groupKey: string;
  readonly groupLabels: Readonly<Record<string, string>>;
  readonly firing: readonly string[];
  readonly resolved: readonly string[];
  /** `dead-letter`: sent again at the group's next flush; `aborted`: the role stopped first (the next process sends it). */
  readonly outcome: 'sent' | 'dead-letter' | 'skipped' | 'aborted';
  readonly detail?: string | undefined;
}

const retentionMillis = 5 * 86_400_000;
const historyLength = 1000;

/**
 * The notification log: per receiver and group, the alerts last notified.
 * Routing compares against it to decide whether a group needs a
 * notification, so keeping it in Redis means a restart sends no duplicate.
 */
export class NotificationLog {
  private readonly entries = new Map<string, NotificationEntry>();
  private readonly redis: Redis | undefined;
  private readonly key: string;
  private readonly historyKey: string;
  /** Writes waiting for the batch: notification-log fields and history records (oldest first). */
  private pendingFields = new Map<string, string>();
  private pendingHistory: string[] = [];
  private batch: Promise<void> | undefined;

  constructor(options: { redis?: Redis; keys?: RedisKeys } = {}) {
    this.redis = options.redis;
    this.key = options.keys?.key('alerts', 'nflog') ?? 'alerts:nflog';
    this.historyKey = options.keys?.key('alerts', 'history') ?? 'alerts:history';
  }

  /** Loads the stored log, dropping entries older than five days. */
  async load(nowMillis: number): Promise<void> {
    if (this.redis === undefined) return;
    const stored = await this.redis.hgetall(this.key);
    const stale: string[] = [];
    for (const [field, text] of Object.entries(stored)) {
      try {
        const entry = JSON.parse(text) as NotificationEntry;
        if (nowMillis - entry.atMillis > retentionMillis) stale.push(field);
        else this.entries.set(field, entry);
      } catch {
        stale.push(field);
      }
    }
    if (stale.length > 0) await this.redis.hdel(this.key, ...stale);
  }

  get(receiver: string, groupKey: string): NotificationEntry | undefined {
    return this.entries.get(`${receiver}\u0000${groupKey}`);
  }

  async record(receiver: string, groupKey: string, entry: NotificationEntry): Promise<void> {
    const field = `${receiver}\u0000${groupKey}`;
    this.entries.set(field, entry);
    if (this.redis === undefined) return;
    this.pendingFields.set(field, JSON.stringify(entry));
    await this.flushSoon();
  }

  async appendHistory(record: HistoryRecord): Promise<void> {
    if (this.redis === undefined) return;
    this.pendingHistory.push(JSON.stringify(record));
    await this.flushSoon();
  }

  /**
   * Writes of one routing cycle go to Redis together: one HSET with every
   * group's entry and one LPUSH of every history record (in order, so the
   * newest is first as with one LPUSH each), in a MULTI, once the deliveries
   * started in this turn of the event loop have recorded theirs. A group per
   * command cost 10,000 round trips of protocol work for 10,000 groups.
   * Each caller's promise settles when the write holding its record did.
   */
  private flushSoon(): Promise<void> {
    this.batch ??= new Promise<void>((resolve, reject) => {
      setImmediate(() => {
        this.batch = undefined;
        const fields = this.pendingFields;
        const history = this.pendingHistory;
        this.pendingFields = new Map();
        this.pendingHistory = [];
        const redis = this.redis as Redis;
        const multi = redis.multi();
        if (fields.size > 0) multi.hset(this.key, fields);
        if (history.length > 0) multi.lpush(this.historyKey, ...history.slice(-historyLength)).ltrim(this.historyKey, 0, historyLength - 1);
        multi.exec().then((replies) => {
          const failed = replies?.find(([error]) => error !== null)?.[0];
          if (failed) reject(failed);
          else resolve();
        }, reject);
      });
    });
    return this.batch;
  }

  async history(limit: number): Promise<HistoryRecord[]> {
    if (this.redis === undefined) return [];
    const items = await this.redis.lrange(this.historyKey, 0, Math.max(0, limit - 1));
    return items.map((text) => JSON.parse(text) as HistoryRecord);
  }
}
