import { setTimeout as delay } from 'node:timers/promises';
import type { Redis } from 'ioredis';
import { silentLogger, type Logger, type RedisKeys } from '@sloth/core';
import type { Notification } from './dispatcher.js';
import type { DeliveryResult } from './receivers/result.js';

/** One way a receiver notifies (a Slack channel, a webhook, the remediation stream). */
export interface Integration {
  /** `slack[0]`, `webhook[1]`, `remediation`: never the URL. */
  readonly name: string;
  readonly sendResolved: boolean;
  /** @defaultValue 5 */
  readonly maxAttempts?: number | undefined;
  /** Sends to the same key are spaced by `pacingMillis` (Slack: one message per second per channel). */
  readonly pacingKey?: string | undefined;
  /** `signal` aborts the request when the role stops; the integration passes it to its fetches. */
  send(notification: Notification, signal?: AbortSignal): Promise<DeliveryResult>;
}

/** A notification that could not be delivered, kept for a person to look at. */
export interface DeadLetter {
  readonly atMillis: number;
  readonly receiver: string;
  readonly integration: string;
  readonly groupKey: string;
  readonly attempts: number;
  readonly reason: string;
  readonly firing: readonly string[];
  readonly resolved: readonly string[];
}

export interface DeliveryOptions {
  redis?: Redis | undefined;
  keys?: RedisKeys | undefined;
  logger?: Logger | undefined;
  /** Waits between attempts; must end early when `signal` aborts. Tests pass one that records instead of sleeping. */
  sleep?: (millis: number, signal: AbortSignal) => Promise<void>;
  clock?: () => number;
  /** @defaultValue Math.random */
  random?: () => number;
  /** First retry delay; doubles per attempt, with full jitter. @defaultValue 1000 */
  baseDelayMillis?: number;
  /** The longest wait between attempts: caps the backoff and the server's `Retry-After` alike. @defaultValue 60000 */
  maxDelayMillis?: number;
  /** @defaultValue 1000 */
  pacingMillis?: number;
}

/** `aborted`: the role stopped before the integration got it (not a dead letter: the next process sends it). */
export type DeliveryOutcome = { readonly integration: string; readonly outcome: 'sent' | 'dead-letter' | 'skipped' | 'aborted'; readonly attempts: number; readonly reason?: string | undefined };

/**
 * Delivers one notification to every integration of its receiver: retries
 * retryable failures with exponential backoff and full jitter (or the
 * server's Retry-After, capped like the backoff), and after `maxAttempts` —
 * or at once for a permanent failure — writes a dead-letter record.
 * `stop()` ends every wait and starts no further attempt; `abort()` also
 * cancels the requests in flight.
 */
export class Delivery {
  private readonly options: DeliveryOptions;
  private readonly logger: Logger;
  private readonly sleep: (millis: number, signal: AbortSignal) => Promise<void>;
  private readonly clock: () => number;
  private readonly lastSend = new Map<string, Promise<number>>();
  /** Per pacing key: no send before this time (a 429's Retry-After holds the whole channel, not one message). */
  private readonly blockedUntil = new Map<string, number>();
  private readonly deadLetterKey: string;
  /** Aborted by `stop()`: waits (backoff, Retry-After, pacing) end and no attempt starts. */
  private readonly waits = new AbortController();
  /** Aborted by `abort()`: requests in flight are cancelled. */
  private readonly requests = new AbortController();

  constructor(options: DeliveryOptions = {}) {
    this.options = options;
    this.logger = options.logger ?? silentLogger();
    this.sleep = options.sleep ?? ((millis, signal) => delay(millis, undefined, { signal }).catch(() => undefined));
    this.clock = options.clock ?? Date.now;
    this.deadLetterKey = options.keys?.key('alerts', 'dead-letter') ?? 'alerts:dead-letter';
  }

  async deliver(notification: Notification, integrations: readonly Integration[]): Promise<DeliveryOutcome[]> {
    return Promise.all(integrations.map((integration) => this.deliverOne(notification, integration)));
  }

  /** Shutdown, first step: waits end at once and no further attempt starts; requests in flight go on. */
  stop(): void {
    this.waits.abort();
  }

  /** Shutdown, last step: requests still in flight are cancelled. */
  abort(): void {
    this.waits.abort();
    this.requests.abort();
  }

  private async deliverOne(notification: Notification, integration: Integration): Promise<DeliveryOutcome> {
    if (notification.firing.length === 0 && !integration.sendResolved) return { integration: integration.name, outcome: 'skipped', attempts: 0 };
    const maxAttempts = integration.maxAttempts ?? 5;
    let last: DeliveryResult = { kind: 'failure', reason: 'not attempted' };
    let attempt = 0;
    const aborted = (): DeliveryOutcome => ({ integration: integration.name, outcome: 'aborted', attempts: attempt, reason: 'the alerts role stopped' });
    while (attempt < maxAttempts) {
      if (integration.pacingKey !== undefined) await this.pace(integration.pacingKey);
      if (this.waits.signal.aborted) return aborted();
      attempt += 1;
      try {
        last = await integration.send(notification, this.requests.signal);
      } catch (error) {
        last = { kind: 'failure', reason: `bug while sending: ${(error as Error).message}` };
      }
      if (last.kind === 'success') return { integration: integration.name, outcome: 'sent', attempts: attempt };
      if (this.requests.signal.aborted) return aborted();
      if (last.kind === 'failure') break;
      const key = integration.pacingKey;
      const retryAfterMillis = this.retryAfterMillis(last.retryAfterMillis);
      if (key !== undefined && retryAfterMillis !== undefined) {
        // The server rate-limited the channel: every send on it waits, including this one's retry (in pace()).
        this.blockedUntil.set(key, Math.max(this.blockedUntil.get(key) ?? Number.NEGATIVE_INFINITY, this.clock() + retryAfterMillis));
      }
      if (attempt < maxAttempts) {
        const wait = retryAfterMillis ?? this.backoffMillis(attempt);
        // A Retry-After beyond the cap is logged with what the server asked, so a rate-limited channel shows why it was tried early.
        const asked = last.retryAfterMillis !== undefined && last.retryAfterMillis > wait ? { retryAfterAskedMillis: Math.round(last.retryAfterMillis) } : {};
        this.logger.warn({ receiver: notification.receiver, integration: integration.name, attempt, reason: last.reason, retryInMillis: Math.round(wait), ...asked }, 'notification not delivered; retrying');
        if (key === undefined || retryAfterMillis === undefined) await this.sleep(wait, this.waits.signal);
      }
    }
    const reason = last.reason;
    const record: DeadLetter = {
      atMillis: this.clock(),
      receiver: notification.receiver,
      integration: integration.name,
      groupKey: notification.groupKey,
      attempts: attempt,
      reason,
      firing: notification.firing.map((a) => a.fingerprint),
      resolved: notification.resolved.map((a) => a.fingerprint),
    };
    this.logger.error({ receiver: notification.receiver, integration: integration.name, attempts: attempt, reason }, 'notification dead-lettered');
    if (this.options.redis !== undefined) {
      await this.options.redis.multi().lpush(this.deadLetterKey, JSON.stringify(record)).ltrim(this.deadLetterKey, 0, 999).exec();
    }
    return { integration: integration.name, outcome: 'dead-letter', attempts: attempt, reason };
  }

  /** Dead-letter records, newest first. */
  async deadLetters(limit = 100): Promise<DeadLetter[]> {
    if (this.options.redis === undefined) return [];
    return (await this.options.redis.lrange(this.deadLetterKey, 0, limit - 1)).map((t) => JSON.parse(t) as DeadLetter);
  }

  /**
   * The server's Retry-After, honoured up to `maxDelayMillis` (60 s, the backoff's own ceiling): one
   * `Retry-After: 600` held a whole Slack channel, and every group on it, for ten minutes. Slack asks
   * for seconds; a failed notification is sent again at its group's next group_interval anyway.
   */
  private retryAfterMillis(asked: number | undefined): number | undefined {
    return asked === undefined ? undefined : Math.min(asked, this.options.maxDelayMillis ?? 60_000);
  }

  /** Full jitter: uniform in [0, min(max, base·2^(attempt−1))]. */
  backoffMillis(attempt: number): number {
    const base = this.options.baseDelayMillis ?? 1000;
    const ceiling = Math.min(this.options.maxDelayMillis ?? 60_000, base * 2 ** (attempt - 1));
    return (this.options.random ?? Math.random)() * ceiling;
  }

  /** Serialises sends per key, spaces them `pacingMillis` apart, and holds them while the key is rate-limited. */
  private async pace(key: string): Promise<void> {
    const pacing = this.options.pacingMillis ?? 1000;
    const previous = this.lastSend.get(key) ?? Promise.resolve(Number.NEGATIVE_INFINITY);
    let release: (at: number) => void = () => undefined;
    const mine = new Promise<number>((resolve) => (release = resolve));
    this.lastSend.set(key, mine);
    const lastMillis = await previous;
    const wait = Math.max(lastMillis + pacing, this.blockedUntil.get(key) ?? Number.NEGATIVE_INFINITY) - this.clock();
    if (wait > 0) await this.sleep(wait, this.waits.signal);
    release(Math.max(this.clock(), lastMillis + pacing));
  }
}
