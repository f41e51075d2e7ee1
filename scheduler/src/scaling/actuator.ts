import { createHmac } from 'node:crypto';
import type { Queue } from 'bullmq';
import { remediationJobName, signRemediationJob, type JobSigningKey, type RemediationJob } from '@sloth/core';
import type { SchedulablePlaybook } from '../playbook-catalogue.js';
import type { ScalingTargetConfig } from './config.js';

/** What an actuator is asked to do. */
export interface ScaleRequest {
  target: string;
  replicas: number;
  previous: number;
  reasons: string[];
  decidedAtMillis: number;
}

/** Outcome of one actuation, as a union (remote failures are expected, not exceptions). */
export type ActuationResult = { kind: 'ok'; detail: string } | { kind: 'failure'; detail: string };

export interface Actuator {
  scale(request: ScaleRequest): Promise<ActuationResult>;
}

/** `X-Sloth-Signature` of a webhook body: HMAC-SHA256 over `<timestamp>.<body>`, hex. */
export function webhookSignature(secret: string, timestampMillis: number, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(`${timestampMillis}.${body}`).digest('hex')}`;
}

/**
 * POSTs the decision as JSON, signed with the target's secret so the receiver
 * can check it came from Sloth and is fresh (`X-Sloth-Timestamp`). The URL and
 * secret never appear in messages: a URL can carry a token.
 */
export class WebhookActuator implements Actuator {
  constructor(private readonly config: { url: string; secret: string; timeoutSeconds: number }) {}

  async scale(request: ScaleRequest): Promise<ActuationResult> {
    const body = JSON.stringify(request);
    const timestampMillis = Date.now();
    try {
      const response = await fetch(this.config.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-sloth-timestamp': String(timestampMillis), 'x-sloth-signature': webhookSignature(this.config.secret, timestampMillis, body) },
        body,
        signal: AbortSignal.timeout(this.config.timeoutSeconds * 1000),
      });
      await response.arrayBuffer();
      if (response.ok) return { kind: 'ok', detail: `webhook answered ${response.status}` };
      return { kind: 'failure', detail: `webhook answered ${response.status}` };
    } catch (error) {
      const name = (error as Error).name;
      return { kind: 'failure', detail: name === 'TimeoutError' ? `webhook did not answer within ${this.config.timeoutSeconds} s` : `webhook unreachable (${name})` };
    }
  }
}

/** Runs a playbook on one agent with params `target`, `replicas`, `previous` (the remediation job kind agents run). */
export class PlaybookActuator implements Actuator {
  constructor(
    private readonly playbook: () => SchedulablePlaybook | undefined,
    private readonly agentId: string,
    private readonly queue: Queue,
    private readonly signingKey?: JobSigningKey,
  ) {}

  async scale(request: ScaleRequest): Promise<ActuationResult> {
    const playbook = this.playbook();
    if (playbook === undefined) return { kind: 'failure', detail: 'the actuator playbook is not loaded' };
    const runId = `scale-${request.target}-${request.decidedAtMillis}`;
    const job: RemediationJob = {
      remediationId: runId,
      agentId: this.agentId,
      playbook: { name: playbook.name, version: playbook.version, fileName: playbook.fileName, source: playbook.source },
      params: { target: request.target, replicas: request.replicas, previous: request.previous },
      event: { kind: 'scaling', ...request },
      dryRun: false,
      triggeredAtMillis: request.decidedAtMillis,
      enqueuedAtMillis: Date.now(),
    };
    await this.queue.add(remediationJobName, signRemediationJob(job, this.signingKey), { jobId: runId, attempts: 1, removeOnComplete: { age: 24 * 3600 }, removeOnFail: { age: 7 * 24 * 3600 } });
    return { kind: 'ok', detail: `playbook ${playbook.name} queued on agent ${this.agentId} as ${runId}` };
  }
}

/** The actuator of a target, if it has one. */
export function actuatorFor(target: ScalingTargetConfig, playbooks: () => readonly SchedulablePlaybook[], agentQueue: (agentId: string) => Queue, signingKey?: JobSigningKey): Actuator | undefined {
  const config = target.actuator;
  if (config === undefined) return undefined;
  if (config.kind === 'webhook') return new WebhookActuator(config);
  return new PlaybookActuator(() => playbooks().find((p) => p.name === config.playbook), config.agent, agentQueue(config.agent), signingKey);
}
