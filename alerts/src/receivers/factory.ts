import type { Redis } from 'ioredis';
import type { RedisKeys } from '@sloth/core';
import type { Integration } from '../delivery.js';
import type { ReceiverSpec } from '../rules-schema.js';
import type { RemediationNote } from '../signals.js';
import { RemediationIntegration } from './remediation.js';
import { SlackIntegration, type SlackThreads } from './slack.js';
import type { SlackLinks } from './slack-blocks.js';
import { WebhookIntegration } from './webhook.js';

export interface IntegrationContext {
  redis?: Redis | undefined;
  keys?: RedisKeys | undefined;
  links: SlackLinks;
  externalUrl: string;
  threads?: SlackThreads | undefined;
  remediationOf?: (agentId: string) => RemediationNote | undefined;
  clock?: () => number;
}

/** The integrations of one receiver, named by kind and position (never by URL). */
export function buildIntegrations(receiver: ReceiverSpec, context: IntegrationContext): Integration[] {
  const list: Integration[] = [];
  (receiver.slack ?? []).forEach((s, i) => {
    list.push(
      new SlackIntegration(
        `${receiver.name}/slack[${i}]`,
        { webhookUrl: s.webhook_url, botToken: s.bot_token, channel: s.channel, onResolve: s.on_resolve, apiUrl: s.api_url, sendResolved: s.send_resolved, maxAttempts: s.max_attempts },
        { links: context.links, threads: context.threads, remediationOf: context.remediationOf },
      ),
    );
  });
  (receiver.webhook ?? []).forEach((w, i) => {
    list.push(new WebhookIntegration(`${receiver.name}/webhook[${i}]`, { url: w.url, secrets: w.secrets, sendResolved: w.send_resolved, maxAttempts: w.max_attempts }, { externalUrl: context.externalUrl, clock: context.clock }));
  });
  if (receiver.remediation !== undefined && context.redis !== undefined && context.keys !== undefined) {
    list.push(new RemediationIntegration(context.redis, context.keys, receiver.remediation.alert_name));
  }
  return list;
}
