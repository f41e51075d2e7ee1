import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { InputError, type RedisKeys } from '@sloth/core';
import { formatMatcher, matches, parseMatcher, type AlertLabels, type Matcher } from './labels.js';

/** A silence, as stored and as the API shows it. */
export interface Silence {
  readonly id: string;
  /** Matcher texts (`agent="web-1"`). */
  readonly matchers: readonly string[];
  readonly startsAtMillis: number;
  endsAtMillis: number;
  /** The name of the API token that created it. */
  readonly createdBy: string;
  readonly comment: string;
  readonly createdAtMillis: number;
}

export interface NewSilence {
  matchers: readonly string[];
  startsAtMillis?: number | undefined;
  endsAtMillis: number;
  createdBy: string;
  comment: string;
}

interface Compiled {
  silence: Silence;
  matchers: Matcher[];
}

/** Expired silences stay listed (and stored) this long. */
const keepExpiredMillis = 24 * 3_600_000;

/**
 * Silences: matchers over a time window with an author and a comment. Kept in
 * a Redis hash so every alerts process and restart sees the same ones; the
 * in-memory copy is what routing checks.
 */
export class Silences {
  private compiled = new Map<string, Compiled>();
  private readonly redis: Redis | undefined;
  private readonly key: string;

  constructor(options: { redis?: Redis; keys?: RedisKeys } = {}) {
    this.redis = options.redis;
    this.key = (options.keys?.key('alerts', 'silences')) ?? 'alerts:silences';
  }

  /** Validates and stores a new silence. */
  async add(input: NewSilence, nowMillis: number): Promise<Silence> {
    if (input.matchers.length === 0) throw new InputError('a silence needs at least one matcher (e.g. alertname="HighCpu")');
    const matchers = input.matchers.map(parseMatcher);
    if (matchers.every((m) => matches(m, {}))) throw new InputError(`matchers ${input.matchers.join(', ')} also match an alert with no labels: a silence must not silence everything; add a matcher on a label value`);
    if (input.comment.trim() === '') throw new InputError('a silence needs a comment saying why (--comment)');
    const startsAtMillis = input.startsAtMillis ?? nowMillis;
    if (!(input.endsAtMillis > startsAtMillis) || !(input.endsAtMillis > nowMillis)) {
      throw new InputError(`the silence would end at ${new Date(input.endsAtMillis).toISOString()}, before it starts or in the past; give a duration or end time in the future`, { endsAtMillis: input.endsAtMillis });
    }
    const silence: Silence = { id: randomUUID(), matchers: matchers.map(formatMatcher), startsAtMillis, endsAtMillis: input.endsAtMillis, createdBy: input.createdBy, comment: input.comment.trim(), createdAtMillis: nowMillis };
    this.compiled.set(silence.id, { silence, matchers });
    await this.redis?.hset(this.key, silence.id, JSON.stringify(silence));
    return silence;
  }

  /** Ends a silence now; false when there is no active silence with this id. */
  async expire(id: string, nowMillis: number): Promise<boolean> {
    await this.refresh(nowMillis);
    const entry = this.compiled.get(id);
    if (entry === undefined || entry.silence.endsAtMillis <= nowMillis) return false;
    entry.silence.endsAtMillis = nowMillis;
    await this.redis?.hset(this.key, id, JSON.stringify(entry.silence));
    return true;
  }

  /** Re-reads the stored silences (other processes may have added some) and drops long-expired ones. */
  async refresh(nowMillis: number): Promise<void> {
    if (this.redis === undefined) return;
    const stored = await this.redis.hgetall(this.key);
    const next = new Map<string, Compiled>();
    const stale: string[] = [];
    for (const [id, text] of Object.entries(stored)) {
      try {
        const silence = JSON.parse(text) as Silence;
        if (silence.endsAtMillis < nowMillis - keepExpiredMillis) {
          stale.push(id);
          continue;
        }
        next.set(id, this.compiled.get(id)?.silence.endsAtMillis === silence.endsAtMillis ? (this.compiled.get(id) as Compiled) : { silence, matchers: silence.matchers.map(parseMatcher) });
      } catch {
        stale.push(id);
      }
    }
    if (stale.length > 0) await this.redis.hdel(this.key, ...stale);
    this.compiled = next;
  }

  /** The id of an active silence matching the labels, if any. */
  mutedBy(labels: AlertLabels, nowMillis: number): string | undefined {
    for (const { silence, matchers } of this.compiled.values()) {
      if (silence.startsAtMillis > nowMillis || silence.endsAtMillis <= nowMillis) continue;
      let all = true;
      for (const m of matchers) {
        if (!matches(m, labels)) {
          all = false;
          break;
        }
      }
      if (all) return silence.id;
    }
    return undefined;
  }

  list(): Silence[] {
    return [...this.compiled.values()].map((c) => c.silence).sort((a, b) => b.createdAtMillis - a.createdAtMillis);
  }

  get(id: string): Silence | undefined {
    return this.compiled.get(id)?.silence;
  }

  static state(silence: Silence, nowMillis: number): 'pending' | 'active' | 'expired' {
    if (silence.endsAtMillis <= nowMillis) return 'expired';
    return silence.startsAtMillis > nowMillis ? 'pending' : 'active';
  }
}
