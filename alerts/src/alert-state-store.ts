import type { Redis } from 'ioredis';
import { z } from 'zod';
import { silentLogger, type Logger, type RedisKeys } from '@sloth/core';
import type { Alert, RuleInstanceRef } from './alert.js';

const labelsSchema = z.record(z.string(), z.string());
const optionalNumber = z.number().nullable().optional();

/** A pending label set of a rule (its `for` wait), as stored. */
const pendingSchema = z.object({
  format: z.literal(1),
  state: z.literal('pending'),
  rule: z.string().min(1),
  key: z.string(),
  sourceLabels: labelsSchema,
  activeSinceMillis: z.number(),
});

/** A firing alert, or a resolved one whose resolution was not flushed yet, as stored. */
const alertSchema = z.object({
  format: z.literal(1),
  state: z.enum(['firing', 'resolved']),
  source: z.enum(['rule', 'alertmanager']),
  rule: z.string().min(1).optional(),
  key: z.string().optional(),
  sourceLabels: labelsSchema.optional(),
  fingerprint: z.string().min(1),
  labels: labelsSchema,
  annotations: labelsSchema,
  startsAtMillis: z.number(),
  endsAtMillis: optionalNumber,
  updatedAtMillis: z.number(),
  value: optionalNumber,
  expectedLow: optionalNumber,
  expectedHigh: optionalNumber,
  flapping: z.boolean(),
  generatorUrl: z.string().nullable().optional(),
});

const savedSchema = z.discriminatedUnion('state', [pendingSchema, alertSchema.extend({ state: z.literal('firing') }), alertSchema.extend({ state: z.literal('resolved') })]);

export type SavedPending = z.infer<typeof pendingSchema>;


/** What was stored: usable entries, and one line per entry that was not (removed from Redis). */
export interface LoadedState {
  readonly pending: readonly SavedPending[];
  /** Alert objects as routing takes them (a rule's with its `instance`). */
  readonly alerts: readonly Alert[];
  readonly problems: readonly string[];
}

/** @defaultValue 100000 */
const defaultMaxEntries = 100_000;

/**
 * The active alerts of the role in Redis (`<prefix>:alerts:active`, a hash next to the notification
 * log): firing alerts, resolutions not flushed yet, and pending label sets with their start, so a
 * restart continues them (startsAt, `for`, the "resolved" of an alert that ended meanwhile) instead
 * of forgetting them. Written when the set changes (an alert fires, resolves, starts or stops
 * flapping, is dropped by routing; a label set goes pending or stops), never per evaluation: the
 * annotations kept are those of the last such change. The writes of one event-loop turn go as one
 * MULTI. At most `maxEntries` entries; beyond, new ones are not kept (one warning).
 */
export class AlertStateStore {
  private readonly redis: Redis | undefined;
  private readonly key: string;
  private readonly logger: Logger;
  private readonly maxEntries: number;
  /** What each stored field holds now: the alert object, or a pending marker. Removals check it first. */
  private readonly current = new Map<string, Alert | RuleInstanceRef>();
  /** Field → what to write (serialised when the batch goes, so 100,000 alerts firing at once do not stall the evaluation), or null to delete. */
  private pending = new Map<string, Alert | PendingWrite | null>();
  private batch: Promise<void> | undefined;
  /** The batch in flight (or the last one): batches run one after another. */
  private writing: Promise<void> = Promise.resolve();
  private warnedFull = false;
  private failing = false;

  constructor(options: { redis?: Redis | undefined; keys?: RedisKeys | undefined; logger?: Logger | undefined; maxEntries?: number | undefined } = {}) {
    this.redis = options.redis;
    this.key = options.keys?.key('alerts', 'active') ?? 'alerts:active';
    this.logger = options.logger ?? silentLogger();
    this.maxEntries = options.maxEntries ?? defaultMaxEntries;
  }

  get size(): number {
    return this.current.size;
  }

  /**
   * Reads the stored state. Entries that cannot be used (not JSON, an unknown format, the key of
   * another type) are removed and reported in `problems`; reading never throws for bad content.
   */
  async load(): Promise<LoadedState> {
    const pending: SavedPending[] = [];
    const alerts: Alert[] = [];
    const problems: string[] = [];
    if (this.redis === undefined) return { pending, alerts, problems };
    let stored: Record<string, string>;
    try {
      stored = await this.redis.hgetall(this.key);
    } catch (error) {
      const message = (error as Error).message;
      if (!message.includes('WRONGTYPE')) throw error;
      problems.push(`${this.key} is not a hash (${message.split(' ')[0] ?? 'WRONGTYPE'}): removed`);
      await this.redis.del(this.key);
      return { pending, alerts, problems };
    }
    const bad: string[] = [];
    for (const [field, text] of Object.entries(stored)) {
      let parsed: z.infer<typeof savedSchema>;
      try {
        const result = savedSchema.safeParse(JSON.parse(text));
        if (!result.success) {
          const issue = result.error.issues[0];
          throw new Error(`${issue?.path.join('.') || '(entry)'}: ${issue?.message ?? 'invalid'}`);
        }
        parsed = result.data;
      } catch (error) {
        bad.push(field);
        problems.push(`${printable(field)}: ${(error as Error).message}`);
        continue;
      }
      if (parsed.state === 'pending') {
        if (fieldOf({ source: 'rule', rule: parsed.rule, key: parsed.key, fingerprint: '' }) !== field) {
          bad.push(field);
          problems.push(`${printable(field)}: stored under another name than its own`);
          continue;
        }
        pending.push(parsed);
        this.current.set(field, { rule: parsed.rule, key: parsed.key, sourceLabels: parsed.sourceLabels });
        continue;
      }
      const ruleless = parsed.source === 'rule' && (parsed.rule === undefined || parsed.key === undefined || parsed.sourceLabels === undefined);
      if (ruleless || fieldOf(parsed) !== field) {
        bad.push(field);
        problems.push(`${printable(field)}: ${ruleless ? "a rule's alert without its rule and label set" : 'stored under another name than its own'}`);
        continue;
      }
      const alert: Alert = {
        fingerprint: parsed.fingerprint,
        labels: Object.freeze({ ...parsed.labels }),
        annotations: { ...parsed.annotations },
        status: parsed.state,
        startsAtMillis: parsed.startsAtMillis,
        endsAtMillis: parsed.endsAtMillis ?? undefined,
        updatedAtMillis: parsed.updatedAtMillis,
        value: parsed.value ?? undefined,
        expectedLow: parsed.expectedLow ?? undefined,
        expectedHigh: parsed.expectedHigh ?? undefined,
        flapping: parsed.flapping,
        source: parsed.source,
        generatorUrl: parsed.generatorUrl ?? undefined,
        instance: parsed.source === 'rule' ? { rule: parsed.rule as string, key: parsed.key as string, sourceLabels: parsed.sourceLabels as Record<string, string> } : undefined,
      };
      alerts.push(alert);
      this.current.set(field, alert);
    }
    if (bad.length > 0) await this.redis.hdel(this.key, ...bad);
    return { pending, alerts, problems };
  }

  /** An alert fired, changed status or flapping, or came back after a restart. */
  saveAlert(alert: Alert): void {
    const field = fieldOf({ source: alert.source, rule: alert.instance?.rule, key: alert.instance?.key, fingerprint: alert.fingerprint });
    if (!this.admit(field)) return;
    this.current.set(field, alert);
    this.write(field, alert);
  }

  /** Routing no longer holds the alert (its resolution was flushed): forgotten, unless its field holds something newer. */
  forgetAlert(alert: Alert): void {
    const field = fieldOf({ source: alert.source, rule: alert.instance?.rule, key: alert.instance?.key, fingerprint: alert.fingerprint });
    if (this.current.get(field) !== alert) return;
    this.current.delete(field);
    this.write(field, null);
  }

  /** A label set went pending (`sinceMillis`), or stopped being pending without firing (undefined). */
  savePending(instance: RuleInstanceRef, sinceMillis: number | undefined): void {
    const field = fieldOf({ source: 'rule', rule: instance.rule, key: instance.key, fingerprint: '' });
    if (sinceMillis === undefined) {
      const held = this.current.get(field);
      if (held === undefined || 'fingerprint' in held) return;
      this.current.delete(field);
      this.write(field, null);
      return;
    }
    if (!this.admit(field)) return;
    this.current.set(field, instance);
    this.write(field, { instance, sinceMillis });
  }

  /** Waits until every change so far is in Redis (shutdown). A write that failed is tried once more. */
  async flush(): Promise<void> {
    if (this.redis === undefined) return;
    if (this.batch !== undefined) await this.batch;
    await this.writing;
    if (this.pending.size > 0) await this.queueBatch();
  }

  /**
   * Runs a batch after the one in flight: one MULTI at a time, so a failed older batch puts its values back
   * before a newer batch for the same fields is taken (two in flight, both failing, would bring an old value back).
   */
  private async queueBatch(): Promise<void> {
    this.writing = this.writing.then(() => this.writeBatch());
    await this.writing;
  }

  private admit(field: string): boolean {
    if (this.current.has(field) || this.current.size < this.maxEntries) return true;
    if (!this.warnedFull) {
      this.warnedFull = true;
      this.logger.warn({ maxEntries: this.maxEntries }, 'alerts state in Redis is full: further alerts are not kept across a restart (logged once)');
    }
    return false;
  }

  private write(field: string, value: Alert | PendingWrite | null): void {
    if (this.redis === undefined) return;
    this.pending.set(field, value);
    this.batch ??= new Promise<void>((resolve) => {
      setImmediate(() => {
        this.batch = undefined;
        void this.queueBatch().then(resolve);
      });
    });
  }

  /** One MULTI for the writes of a turn. A failure keeps them for the next batch (newer writes win) and is logged once until a write succeeds. */
  private async writeBatch(): Promise<void> {
    const writes = this.pending;
    this.pending = new Map();
    if (writes.size === 0) return;
    const set = new Map<string, string>();
    const removed: string[] = [];
    for (const [field, value] of writes) {
      if (value === null) removed.push(field);
      else set.set(field, 'sinceMillis' in value ? pendingJson(value) : alertJson(value));
    }
    const multi = (this.redis as Redis).multi();
    if (set.size > 0) multi.hset(this.key, set);
    if (removed.length > 0) multi.hdel(this.key, ...removed);
    try {
      const replies = await multi.exec();
      const failed = replies?.find(([error]) => error !== null)?.[0];
      if (failed) throw failed;
      if (this.failing) this.logger.info('alerts state written to Redis again');
      this.failing = false;
    } catch (error) {
      for (const [field, value] of writes) if (!this.pending.has(field)) this.pending.set(field, value);
      if (!this.failing) this.logger.warn({ problem: (error as Error).message }, 'alerts state not written to Redis; trying again at the next change (logged once until it works)');
      this.failing = true;
    }
  }
}

interface PendingWrite {
  readonly instance: RuleInstanceRef;
  readonly sinceMillis: number;
}

function pendingJson({ instance, sinceMillis }: PendingWrite): string {
  return JSON.stringify({ format: 1, state: 'pending', rule: instance.rule, key: instance.key, sourceLabels: instance.sourceLabels, activeSinceMillis: sinceMillis });
}

function alertJson(alert: Alert): string {
  const instance = alert.instance;
  return JSON.stringify({
    format: 1,
    state: alert.status,
    source: alert.source,
    rule: instance?.rule,
    key: instance?.key,
    sourceLabels: instance?.sourceLabels,
    fingerprint: alert.fingerprint,
    labels: alert.labels,
    annotations: alert.annotations,
    startsAtMillis: alert.startsAtMillis,
    endsAtMillis: alert.endsAtMillis,
    updatedAtMillis: alert.updatedAtMillis,
    value: alert.value,
    expectedLow: alert.expectedLow,
    expectedHigh: alert.expectedHigh,
    flapping: alert.flapping,
    generatorUrl: alert.generatorUrl,
  });
}

/** The hash field of an entry: a rule's label set (pending or firing, one at a time), or an intake alert's fingerprint. */
function fieldOf(entry: { source: 'rule' | 'alertmanager'; rule?: string | undefined; key?: string | undefined; fingerprint: string }): string {
  return entry.source === 'rule' ? `rule\u0000${entry.rule ?? ''}\u0000${entry.key ?? ''}` : `alertmanager\u0000${entry.fingerprint}`;
}

function printable(field: string): string {
  const text = field.replaceAll('\u0000', ' / ');
  return text.length > 120 ? `${text.slice(0, 117)}…` : text;
}
