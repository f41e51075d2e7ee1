import { join } from 'node:path';
import { Redis } from 'ioredis';
import { queueNames, redisKeys, silentLogger, type JobSigningKey, type Logger } from '@sloth/core';
import { DurableSender } from '../export/durable-sender.js';
import { OtlpTransport } from '../export/otlp-transport.js';
import { agentResource } from '../resource.js';
import { AgentTelemetry } from '../telemetry.js';
import { PlaybookRuntime } from '../playbook/runtime.js';
import { checkFsRoots } from '../playbook/fs-roots.js';
import type { ExecPolicy, FsPolicy, HttpPolicy, PlaybookLimits } from '../playbook/types.js';
import { AgentPlaybookHost } from './agent-playbook-host.js';
import { JobWorker } from './job-worker.js';
import { LuaPlaybookRunner } from './lua-playbook-runner.js';

export interface RemediationWorkerOptions {
  agentId: string;
  redisUrl: string;
  /** @defaultValue `sloth` */
  prefix?: string;
  /** The agent's state directory (playbook `state.*` lives there). */
  stateDir: string;
  /** The agent's telemetry; without one, a private instance is created (exporting to `collector` if given). */
  telemetry?: AgentTelemetry | undefined;
  /** Where a private telemetry instance sends spans, log records and metrics (OTLP/HTTP, disk-spooled in `<stateDir>/remediation-spool`). */
  collector?: { url: string; token?: string | undefined; intervalMillis?: number } | undefined;
  exec?: ExecPolicy | undefined;
  http?: HttpPolicy | undefined;
  fs?: FsPolicy | undefined;
  limits?: Partial<PlaybookLimits> | undefined;
  logger?: Logger | undefined;
  /** Jobs run at once. @defaultValue 4 */
  concurrency?: number;
  /** Lua worker threads of a runtime of its own; without it, the process-wide runtime (min(2, cores) threads) is used. */
  luaWorkers?: number | undefined;
  /** @defaultValue 30000 */
  lockDurationMillis?: number;
  /** @defaultValue 15000 */
  stalledIntervalMillis?: number;
  /** The key jobs must be signed with (see `JobWorkerOptions.signingKey`); without one every job runs. */
  signingKey?: JobSigningKey | undefined;
}

/**
 * The remediation side of an agent, assembled: the agent's playbook host,
 * the Lua runner and the BullMQ worker on `agent.<id>`. The agent starts it
 * when Redis is configured; `sloth remediation worker` runs it alone.
 */
export class RemediationWorker {
  private readonly options: RemediationWorkerOptions;
  private redis: Redis | undefined;
  private worker: JobWorker | undefined;
  private ownTelemetry: AgentTelemetry | undefined;
  private ownRuntime: PlaybookRuntime | undefined;
  private sender: DurableSender | undefined;

  constructor(options: RemediationWorkerOptions) {
    this.options = options;
  }

  get queueName(): string {
    return queueNames.agent(this.options.agentId);
  }

  /** Throws `SLOTH_ERR_CONFIG` naming every fs root that does not exist, is not a directory, or is writable by every user (see {@link checkFsRoots}). */
  async start(): Promise<void> {
    const options = this.options;
    const logger = options.logger ?? silentLogger();
    const keys = redisKeys(options.prefix ?? 'sloth');
    // Checked before anything starts; the sandbox then uses the real paths found now.
    const roots = await checkFsRoots(options.fs?.allowRoots ?? []);
    for (const root of roots) {
      if (root.realPath !== root.root) logger.info({ root: root.root, realPath: root.realPath }, `playbook fs root ${root.root} resolves to ${root.realPath}; playbooks get ${root.realPath}`);
    }
    const fs: FsPolicy = { ...options.fs, allowRoots: roots.map((r) => r.realPath) };
    let telemetry = options.telemetry;
    if (telemetry === undefined) {
      const collector = options.collector;
      if (collector !== undefined) {
        this.sender = new DurableSender({
          transport: new OtlpTransport({ collectorUrl: collector.url, token: collector.token }),
          spoolDir: join(options.stateDir, 'remediation-spool'),
          logger,
        });
        await this.sender.start();
      }
      this.ownTelemetry = new AgentTelemetry({
        resource: agentResource({ agentId: options.agentId, labels: {} }),
        sender: this.sender,
        exportIntervalMillis: collector?.intervalMillis ?? 10_000,
        hostMetrics: true,
      });
      telemetry = this.ownTelemetry;
    }
    this.redis = new Redis(options.redisUrl, { maxRetriesPerRequest: null });
    this.redis.on('error', (error) => logger.warn({ err: error }, 'remediation worker Redis error'));
    const host = new AgentPlaybookHost({ agentId: options.agentId, telemetry, redis: this.redis, keys, stateDir: options.stateDir, exec: options.exec, http: options.http, fs });
    if (options.luaWorkers !== undefined) {
      this.ownRuntime = new PlaybookRuntime({ workers: options.luaWorkers });
      await this.ownRuntime.start();
    }
    const runner = new LuaPlaybookRunner({ host, limits: options.limits, runtime: this.ownRuntime });
    this.worker = new JobWorker({
      agentId: options.agentId,
      redisUrl: options.redisUrl,
      prefix: keys.prefix,
      runner,
      telemetry: {
        withSpan: (name, attributes, fn) => telemetry.withSpan(name, attributes, () => fn()),
        recordTaskRun: (run) => telemetry.recordTaskRun(run),
      },
      logger,
      signingKey: options.signingKey,
      claimDir: join(options.stateDir, 'remediation-claims'),
      ...(options.concurrency === undefined ? {} : { concurrency: options.concurrency }),
      ...(options.lockDurationMillis === undefined ? {} : { lockDurationMillis: options.lockDurationMillis }),
      ...(options.stalledIntervalMillis === undefined ? {} : { stalledIntervalMillis: options.stalledIntervalMillis }),
    });
    await this.worker.start();
  }

  async shutdown(): Promise<void> {
    await this.worker?.shutdown();
    this.redis?.disconnect();
    await this.ownTelemetry?.shutdown();
    if (this.sender !== undefined) {
      await this.sender.drain(2000);
      await this.sender.shutdown();
      this.sender = undefined;
    }
    await this.ownRuntime?.shutdown();
    this.ownRuntime = undefined;
    this.worker = undefined;
    this.redis = undefined;
    this.ownTelemetry = undefined;
  }
}

/** Starts the remediation worker of an agent (see {@link RemediationWorker}). */
export async function startRemediationWorker(options: RemediationWorkerOptions): Promise<RemediationWorker> {
  const worker = new RemediationWorker(options);
  await worker.start();
  return worker;
}
