import type { Redis } from 'ioredis';
import type { RedisKeys } from '@sloth/core';
import type { Integration } from '../delivery.js';
import type { Notification } from '../dispatcher.js';
import type { RemediationNote } from '../signals.js';
import { post, type DeliveryResult } from './result.js';
import { slackMessage, type SlackLinks } from './slack-blocks.js';

export interface SlackSettings {
  webhookUrl?: string | undefined;
  botToken?: string | undefined;
  channel?: string | undefined;
  onResolve: 'update' | 'thread';
  apiUrl: string;
  sendResolved: boolean;
  maxAttempts?: number | undefined;
}

/** Where a bot-mode message of a group was posted, so its resolution edits or answers it. */
export interface SlackThreads {
  get(key: string): Promise<{ channel: string; ts: string } | undefined>;
  set(key: string, value: { channel: string; ts: string }): Promise<void>;
  delete(key: string): Promise<void>;
}

/** Threads in a Redis hash: a restart still finds the message to update. */
export class RedisSlackThreads implements SlackThreads {
  private readonly redis: Redis;
  private readonly key: string;

  constructor(redis: Redis, keys: RedisKeys) {
    this.redis = redis;
    this.key = keys.key('alerts', 'slack-threads');
  }

  async get(key: string): Promise<{ channel: string; ts: string } | undefined> {
    const text = await this.redis.hget(this.key, key);
    return text === null ? undefined : (JSON.parse(text) as { channel: string; ts: string });
  }

  async set(key: string, value: { channel: string; ts: string }): Promise<void> {
    await this.redis.hset(this.key, key, JSON.stringify(value));
  }

  async delete(key: string): Promise<void> {
    await this.redis.hdel(this.key, key);
  }
}

/**
 * Slack, as an incoming webhook (one message per notification) or as a bot
 * (`chat.postMessage`, then `chat.update` of the original message or a
 * thread reply when the group resolves). The webhook URL and bot token are
 * secrets: they never appear in results, logs or names.
 */
export class SlackIntegration implements Integration {
  readonly name: string;
  readonly sendResolved: boolean;
  readonly maxAttempts: number | undefined;
  readonly pacingKey: string;
  private readonly settings: SlackSettings;
  private readonly links: SlackLinks;
  private readonly threads: SlackThreads | undefined;
  private readonly remediationOf: (agentId: string) => RemediationNote | undefined;

  constructor(name: string, settings: SlackSettings, options: { links: SlackLinks; threads?: SlackThreads | undefined; remediationOf?: (agentId: string) => RemediationNote | undefined }) {
    this.name = name;
    this.settings = settings;
    this.sendResolved = settings.sendResolved;
    this.maxAttempts = settings.maxAttempts;
    // One pace per channel; the webhook URL names its channel, the hash keeps it out of memory dumps of names.
    this.pacingKey = `slack:${settings.channel ?? name}`;
    this.links = options.links;
    this.threads = options.threads;
    this.remediationOf = options.remediationOf ?? (() => undefined);
  }

  async send(notification: Notification, signal?: AbortSignal): Promise<DeliveryResult> {
    const message = slackMessage(notification, this.links, this.remediationOf);
    if (this.settings.webhookUrl !== undefined) {
      return (await post(this.settings.webhookUrl, JSON.stringify(message), { 'content-type': 'application/json' }, { signal })).result;
    }
    const threadKey = `${this.name}\u0000${notification.groupKey}`;
    const known = await this.threads?.get(threadKey);
    const allResolved = notification.firing.length === 0;
    if (known !== undefined && (allResolved || this.settings.onResolve === 'update')) {
      if (this.settings.onResolve === 'update') {
        const result = await this.api('chat.update', { channel: known.channel, ts: known.ts, ...message }, signal);
        if (result.kind === 'success' && allResolved) await this.threads?.delete(threadKey);
        return result;
      }
      const result = await this.api('chat.postMessage', { channel: known.channel, thread_ts: known.ts, ...message }, signal);
      if (result.kind === 'success') await this.threads?.delete(threadKey);
      return result;
    }
    if (known !== undefined) return this.api('chat.postMessage', { channel: known.channel, thread_ts: known.ts, ...message }, signal);
    return this.api('chat.postMessage', { channel: this.settings.channel, ...message }, signal, async (answer) => {
      if (!allResolved && typeof answer.ts === 'string') await this.threads?.set(threadKey, { channel: typeof answer.channel === 'string' ? answer.channel : (this.settings.channel as string), ts: answer.ts });
    });
  }

  private async api(method: string, body: Record<string, unknown>, signal: AbortSignal | undefined, onOk?: (answer: Record<string, unknown>) => Promise<void>): Promise<DeliveryResult> {
    const url = `${this.settings.apiUrl.replace(/\/$/, '')}/${method}`;
    const { answer, result } = await post(url, JSON.stringify(body), { 'content-type': 'application/json; charset=utf-8', authorization: `Bearer ${this.settings.botToken ?? ''}` }, { signal });
    if (result.kind !== 'success') return result;
    let parsed: Record<string, unknown>;
    try {
      parsed = JSON.parse(answer.body) as Record<string, unknown>;
    } catch {
      return { kind: 'retryable', reason: `Slack ${method} answered HTTP ${answer.status} with a body that is not JSON` };
    }
    if (parsed.ok !== true) {
      const error = typeof parsed.error === 'string' ? parsed.error : 'unknown error';
      if (error === 'ratelimited') return { kind: 'retryable', reason: `Slack ${method}: ratelimited` };
      return { kind: 'failure', reason: `Slack ${method}: ${error}` };
    }
    await onOk?.(parsed);
    return { kind: 'success', detail: typeof parsed.ts === 'string' ? `ts ${parsed.ts}` : undefined };
  }
}
