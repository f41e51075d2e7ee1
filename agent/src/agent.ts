import { join } from 'node:path';
import type { Logger } from 'pino';
import { createAgentLogger, OtelLogBridge } from './agent-logger.js';
import { agentPaths, type AgentConfig } from './config.js';
import { DurableSender } from './export/durable-sender.js';
import { OtlpTransport } from './export/otlp-transport.js';
import { HealthMonitor } from './health/health-monitor.js';
import { loadIdentity, type AgentIdentity } from './identity.js';
import { RotatingLogFile } from './log-file.js';
import { Redis } from 'ioredis';
import { redactUrl, redisKeys } from '@sloth/core';
import { HealthEventPublisher } from './health/health-events.js';
import { startRemediationWorker, type RemediationWorker } from './jobs/remediation-worker.js';
import { agentResource } from './resource.js';
import { AgentTelemetry } from './telemetry.js';

export interface AgentOptions {
  /** Log to stdout as well as the file and OTel. @defaultValue true */
  readonly stdout?: boolean;
}

/**
 * The Sloth agent: host and runtime telemetry, custom and task metrics,
 * health checks, exported over OTLP through a durable disk spool, plus its
 * own Prometheus endpoint. Embeddable (`sloth up`) through `start()`/`shutdown()`.
 */
export class Agent {
  private identityValue: AgentIdentity | undefined;
  private telemetryValue: AgentTelemetry | undefined;
  private healthValue: HealthMonitor | undefined;
  private sender: DurableSender | undefined;
  private logFile: RotatingLogFile | undefined;
  private loggerValue: Logger | undefined;
  private readonly bridge = new OtelLogBridge();
  private remediationWorker: RemediationWorker | undefined;
  private eventsRedis: Redis | undefined;

  constructor(
    readonly config: AgentConfig,
    private readonly options: AgentOptions = {},
  ) {}

  get id(): string {
    return this.started().identity.agentId;
  }

  /** The in-process telemetry API (custom metrics, task runs, spans, log records, host values). */
  get telemetry(): AgentTelemetry {
    return this.started().telemetry;
  }

  /** The BullMQ queue this agent serves remediation jobs from, when it does. */
  get remediationQueue(): string | undefined {
    return this.remediationWorker?.queueName;
  }

  get health(): HealthMonitor {
    return this.started().health;
  }

  get logger(): Logger {
    return this.started().logger;
  }

  async start(): Promise<void> {
    const paths = agentPaths(this.config);
    const identity = await loadIdentity(paths.stateDir, this.config.id);
    this.identityValue = identity;
    this.logFile = paths.logFile === undefined ? undefined : new RotatingLogFile({ path: paths.logFile, maxBytes: this.config.logMaxMb * 1024 * 1024, maxFiles: this.config.logMaxFiles });
    const logger = createAgentLogger({ level: this.config.logLevel, stdout: this.options.stdout, file: this.logFile, bridge: this.bridge }).child({ agent: identity.agentId });
    this.loggerValue = logger;

    const token = this.config.insecureNoAuth ? undefined : this.config.token;
    this.sender = new DurableSender({
      transport: new OtlpTransport({ collectorUrl: this.config.collector, token, timeoutMillis: Math.max(2000, Math.min(10_000, this.config.interval * 1000)) }),
      spoolDir: paths.spoolDir,
      maxSpoolBytes: this.config.maxSpoolMb * 1024 * 1024,
      maxBackoffMillis: Math.min(10_000, Math.max(1000, this.config.interval * 1000)),
      logger,
    });
    await this.sender.start();
    const telemetry = new AgentTelemetry({
      resource: agentResource({ agentId: identity.agentId, labels: this.config.labels }),
      sender: this.sender,
      exportIntervalMillis: this.config.interval * 1000,
      prometheus: this.config.metricsPort > 0 ? { port: this.config.metricsPort, host: this.config.metricsHost } : undefined,
      hostMetrics: this.config.hostMetrics,
    });
    this.telemetryValue = telemetry;
    try {
      await telemetry.start();
    } catch (error) {
      await this.shutdown();
      throw error;
    }
    this.bridge.sink = telemetry;
    this.healthValue = new HealthMonitor({ checks: this.config.checks, agentId: identity.agentId, logger, telemetry, stateFile: paths.checksFile });
    if (this.config.redisUrl !== undefined) {
      // Health transitions become events the scheduler can trigger remediation on.
      const redis = new Redis(this.config.redisUrl, { maxRetriesPerRequest: 1, enableOfflineQueue: true });
      redis.on('error', (error) => logger.warn({ err: error }, 'events Redis error'));
      this.eventsRedis = redis;
      const publisher = new HealthEventPublisher({ redis, keys: redisKeys(this.config.redisPrefix ?? 'sloth'), agentId: identity.agentId, logger });
      this.healthValue.onTransition((transition) => void publisher.publish(transition));
    }
    await this.healthValue.start();
    if (this.config.remediation && this.config.redisUrl !== undefined) {
      try {
        this.remediationWorker = await startRemediationWorker({
          agentId: identity.agentId,
          redisUrl: this.config.redisUrl,
          prefix: this.config.redisPrefix ?? 'sloth',
          stateDir: join(paths.stateDir, 'state'),
          telemetry,
          exec: { allow: [...this.config.allowExec], allowEnv: this.config.allowExecEnv },
          http: { allowHosts: [...this.config.allowHttp] },
          fs: { allowRoots: [...this.config.allowFs] },
          logger,
          signingKey: this.config.jobSigningKey,
        });
      } catch (error) {
        await this.shutdown();
        throw error;
      }
    }
    logger.info(
      {
        collector: redactUrl(this.config.collector),
        intervalSeconds: this.config.interval,
        metricsUrl: telemetry.prometheusUrl(),
        checks: this.config.checks.length,
        labels: this.config.labels,
        stateDir: paths.stateDir,
      },
      `agent ${identity.agentId} started`,
    );
  }

  /** Stops checks, exports a last collection, and leaves anything undelivered in the spool for the next start. */
  async shutdown(): Promise<void> {
    await this.remediationWorker?.shutdown();
    this.remediationWorker = undefined;
    await this.healthValue?.shutdown();
    this.eventsRedis?.disconnect();
    this.eventsRedis = undefined;
    this.loggerValue?.info('agent stopping');
    this.bridge.sink = undefined;
    await this.telemetryValue?.shutdown();
    if (this.sender !== undefined) {
      await this.sender.drain(2000);
      await this.sender.shutdown();
    }
    this.loggerValue?.flush();
    this.logFile?.close();
    this.logFile = undefined;
  }

  private started(): { identity: AgentIdentity; telemetry: AgentTelemetry; health: HealthMonitor; logger: Logger } {
    if (this.identityValue === undefined || this.telemetryValue === undefined || this.healthValue === undefined || this.loggerValue === undefined) {
      throw new Error('the agent is not started: call start() first');
    }
    return { identity: this.identityValue, telemetry: this.telemetryValue, health: this.healthValue, logger: this.loggerValue };
  }
}
