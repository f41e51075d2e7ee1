import { hostname } from 'node:os';
import { resolve } from 'node:path';
import { Redis } from 'ioredis';
import type { FastifyInstance } from 'fastify';
import { apiRoutes, localUrl, MetricsEndpoint, redisKeys, SchedulerMetrics, SlothError, type ApiRouteRecord, type BoundAddress, type Logger, type RedisKeys } from '@sloth/core';
import { buildApi } from './api.js';
import { AuditStore } from './audit-store.js';
import type { SchedulerConfig } from './config.js';
import { configuredSecrets, tokenTable } from './config.js';
import { QueueDepthPoller, remediationOutcome, remediationSeconds } from './metrics.js';
import type { PlaybookLoader, SchedulablePlaybook } from './playbook-catalogue.js';
import { RemediationEngine } from './remediation-engine.js';
import { ResultsConsumer } from './results-consumer.js';
import { ScalingService } from './scaling/service.js';
import { TaskService } from './tasks/task-service.js';
import { TriggerConsumer } from './trigger-consumer.js';
import type { Trigger } from './trigger.js';

export interface SchedulerOptions {
  config: SchedulerConfig;
  /** Redis URL (the CLI resolves it). */
  redisUrl: string;
  loadPlaybooks: PlaybookLoader;
  logger: Logger;
  /** Period of the expiry/dispatch tick. @defaultValue 1000 */
  tickMillis?: number;
  /**
   * When the metrics port is taken, serve `/metrics` on a free port instead of failing (the CLI sets it
   * when no `--metrics-port` was given, so several schedulers on one host still start). @defaultValue true
   */
  anyMetricsPortIfTaken?: boolean;
  /** How often queue depths are counted. @defaultValue 5000 */
  queueDepthIntervalMillis?: number;
}

/**
 * The scheduler role: turns anomalies and events into remediation jobs on
 * agent queues, under cooldowns, concurrency limits, dry run and approvals,
 * and keeps the audit log. `start()` loads playbooks, opens the store, joins
 * the consumer groups and listens on the API port; `shutdown()` drains.
 */
export class Scheduler {
  private readonly options: SchedulerOptions;
  readonly keys: RedisKeys;
  /** Playbooks triggers may run: every loaded one whose required parameters the configuration gives. */
  private playbooks: SchedulablePlaybook[] = [];
  /** Every loaded playbook: a task submission brings its own parameters. */
  private taskPlaybooks: SchedulablePlaybook[] = [];
  private store: AuditStore | undefined;
  private redis: Redis | undefined;
  private triggerRedis: Redis | undefined;
  private resultsRedis: Redis | undefined;
  private engine: RemediationEngine | undefined;
  private triggers: TriggerConsumer | undefined;
  private results: ResultsConsumer | undefined;
  private api: FastifyInstance | undefined;
  private tasks: TaskService | undefined;
  private scaling: ScalingService | undefined;
  private ticker: NodeJS.Timeout | undefined;
  private ticking: Promise<void> | undefined;
  private address: BoundAddress | undefined;
  private queueDepths: QueueDepthPoller | undefined;
  private metricsEndpoint: MetricsEndpoint | undefined;
  /** Placements, remediation outcomes, scaling decisions and queue depths, served on `/metrics`. */
  readonly metrics: SchedulerMetrics;

  constructor(options: SchedulerOptions) {
    this.options = options;
    this.keys = redisKeys(options.config.redisPrefix);
    this.metrics = new SchedulerMetrics(() => this.queueDepths?.current ?? []);
    const { tokens, insecureNoAuth } = options.config;
    if (tokens.length === 0 && !insecureNoAuth) {
      throw new SlothError('SLOTH_ERR_CONFIG', 'the scheduler API needs at least one token (scheduler.tokens or --token SECRET), or --insecure-no-auth for local use');
    }
  }

  /** Every route of the scheduler API, with how each answers (core's `apiRoutes`), once started. */
  get routes(): readonly ApiRouteRecord[] {
    if (this.api === undefined) throw new Error('scheduler not started');
    return apiRoutes(this.api);
  }

  /** Where the API listens, once started. */
  get listening(): BoundAddress {
    if (this.address === undefined) throw new Error('scheduler not started');
    return this.address;
  }

  /** The port `/metrics` is served on, once started; 0 when disabled. */
  get metricsPort(): number {
    return this.metricsEndpoint?.port ?? 0;
  }

  get loadedPlaybooks(): readonly SchedulablePlaybook[] {
    return this.playbooks;
  }

  get auditStore(): AuditStore {
    if (this.store === undefined) throw new Error('scheduler not started');
    return this.store;
  }

  /** Tasks and placement, once started. */
  get taskService(): TaskService {
    if (this.tasks === undefined) throw new Error('scheduler not started');
    return this.tasks;
  }

  get remediationEngine(): RemediationEngine {
    if (this.engine === undefined) throw new Error('scheduler not started');
    return this.engine;
  }

  async start(): Promise<void> {
    const { config, logger } = this.options;
    this.taskPlaybooks = await this.options.loadPlaybooks(resolve(config.playbooks));
    this.playbooks = this.taskPlaybooks.filter((playbook) => {
      const configured = config.playbookParams[playbook.name] ?? {};
      const missing = (playbook.requiredParams ?? []).filter((param) => configured[param] === undefined || configured[param] === null || configured[param] === '');
      if (missing.length > 0) {
        logger.warn(
          { playbook: playbook.name, missing },
          `playbook ${playbook.name} not run by triggers (tasks may still run it with --param): it needs param ${missing.join(', ')}; set scheduler.playbookParams.${playbook.name}.${missing[0]} in the config file`,
        );
      }
      return missing.length === 0;
    });
    logger.info({ directory: resolve(config.playbooks), playbooks: this.playbooks.map((p) => `${p.name}@${p.version}`) }, 'playbooks loaded');
    if (config.jobSigningKey === undefined) logger.warn('no job-signing key configured (scheduler.jobSigningKeyFile, SLOTH_JOB_SIGNING_KEY_FILE): jobs go to agents unsigned, and an agent holding a key refuses them');
    else logger.info({ jobSigningKeyId: config.jobSigningKey.keyId }, 'jobs queued for agents are signed');
    this.store = AuditStore.open(config.dataDir);
    const connect = (): Redis => {
      const client = new Redis(this.options.redisUrl, { maxRetriesPerRequest: null });
      client.on('error', (error) => logger.warn({ err: error }, 'Redis connection error'));
      return client;
    };
    this.redis = connect();
    this.triggerRedis = connect();
    this.resultsRedis = connect();
    this.engine = new RemediationEngine({
      store: this.store,
      redis: this.redis,
      keys: this.keys,
      logger,
      policy: {
        dryRun: config.dryRun,
        dryRunPlaybooks: config.dryRunPlaybooks,
        playbookParams: config.playbookParams,
        cooldownSeconds: config.cooldownSeconds,
        maxConcurrent: config.maxConcurrent,
        maxConcurrentPerAgent: config.maxConcurrentPerAgent,
        approvalTimeoutSeconds: config.approvalTimeoutSeconds,
        resultTimeoutSeconds: config.resultTimeoutSeconds,
      },
      onFinal: (record) => {
        const outcome = remediationOutcome(record);
        if (outcome !== undefined) this.metrics.remediation(record.playbook, outcome, remediationSeconds(record), record.finishedAtMillis ?? record.updatedAtMillis);
      },
      jobSigningKey: config.jobSigningKey,
    });
    const engine = this.engine;
    this.results = new ResultsConsumer({ redis: this.resultsRedis, keys: this.keys, store: this.store, logger, apply: (report) => engine.applyReport(report) });
    await this.results.start();
    this.triggers = new TriggerConsumer({
      redis: this.triggerRedis,
      keys: this.keys,
      group: config.consumerGroup,
      consumer: config.consumerName ?? `${hostname()}-${process.pid}`,
      logger,
      handle: (trigger) => this.handleTrigger(trigger),
    });
    await this.triggers.start();
    this.ticker = setInterval(() => {
      if (this.ticking !== undefined) return;
      this.ticking = this.tick().finally(() => {
        this.ticking = undefined;
      });
    }, this.options.tickMillis ?? 1000);
    await this.engine.dispatch();
    this.tasks = new TaskService({
      config: config.tasks,
      redisUrl: this.options.redisUrl,
      keys: this.keys,
      consumerName: config.consumerName ?? `${hostname()}-${process.pid}`,
      playbooks: () => this.taskPlaybooks,
      logger,
      onPlacement: (agentId, outcome) => this.metrics.placement(agentId, outcome),
      knownSecrets: configuredSecrets(config, this.options.redisUrl),
      jobSigningKey: config.jobSigningKey,
    });
    await this.tasks.start();
    this.scaling = new ScalingService({ targets: config.scaling, collector: { url: config.tasks.collectorUrl, token: config.tasks.collectorToken }, redisUrl: this.options.redisUrl, keys: this.keys, playbooks: () => this.playbooks, logger, metrics: this.metrics.registry, jobSigningKey: config.jobSigningKey });
    this.scaling.start();
    this.api = buildApi({ store: this.store, engine: this.engine, tokens: tokenTable(config.tokens), insecureNoAuth: config.insecureNoAuth, logger, routes: [this.tasks.routes, this.scaling.routes] });
    try {
      await this.api.listen({ host: config.host, port: config.port });
    } catch (error) {
      await this.shutdown();
      if ((error as NodeJS.ErrnoException).code === 'EADDRINUSE') {
        throw new SlothError('SLOTH_ERR_PORT_IN_USE', `port ${config.port} is already in use: stop the other process or choose another port with --port`, { cause: error });
      }
      throw error;
    }
    const address = this.api.server.address();
    const port = typeof address === 'object' && address !== null ? address.port : config.port;
    this.address = { host: config.host, port, url: localUrl(config.host, port) };
    this.queueDepths = new QueueDepthPoller({ redis: this.redis, keys: this.keys, logger, ...(this.options.queueDepthIntervalMillis === undefined ? {} : { intervalMillis: this.options.queueDepthIntervalMillis }) });
    this.queueDepths.start();
    if (config.metricsPort !== 0) {
      try {
        this.metricsEndpoint = await this.serveMetrics(config.metricsPort);
      } catch (error) {
        await this.shutdown();
        throw error;
      }
    }
  }

  private async serveMetrics(port: number): Promise<MetricsEndpoint> {
    const { config, logger } = this.options;
    const endpoint = (at: number): MetricsEndpoint =>
      new MetricsEndpoint({ host: config.host, port: at, render: () => this.metrics.render(), portInUseMessage: (p) => `the scheduler's metrics port ${p} is already in use: stop the other process, choose another with --metrics-port, or 0 to turn /metrics off` });
    const first = endpoint(port);
    try {
      await first.start();
      return first;
    } catch (error) {
      if (this.options.anyMetricsPortIfTaken === false || (error as SlothError).code !== 'SLOTH_ERR_PORT_IN_USE') throw error;
      const fallback = endpoint(0);
      await fallback.start();
      logger.warn({ port, boundPort: fallback.port }, 'the scheduler metrics port is taken; serving /metrics on a free port instead (give --metrics-port to fail instead)');
      return fallback;
    }
  }

  /** Matches a trigger against every playbook and admits each match. */
  async handleTrigger(trigger: Trigger): Promise<void> {
    const engine = this.remediationEngine;
    for (const playbook of this.playbooks) {
      let matched: boolean;
      try {
        matched = playbook.matches(trigger.event);
      } catch (error) {
        this.options.logger.warn({ err: error, playbook: playbook.name, trigger: trigger.id }, 'trigger matching failed for this playbook');
        continue;
      }
      if (matched) await engine.admit(trigger, playbook);
    }
  }

  private async tick(): Promise<void> {
    try {
      await this.engine?.expire();
      await this.engine?.timeOutStale();
      await this.engine?.dispatch();
    } catch (error) {
      this.options.logger.warn({ err: error }, 'scheduler tick failed');
    }
  }

  async shutdown(): Promise<void> {
    if (this.ticker !== undefined) clearInterval(this.ticker);
    this.ticker = undefined;
    await this.metricsEndpoint?.shutdown();
    this.metricsEndpoint = undefined;
    await this.queueDepths?.shutdown();
    this.queueDepths = undefined;
    await this.api?.close();
    await this.tasks?.shutdown();
    await this.scaling?.shutdown();
    this.tasks = undefined;
    this.scaling = undefined;
    await this.triggers?.shutdown();
    await this.results?.shutdown();
    await this.ticking;
    await this.engine?.shutdown();
    for (const client of [this.redis, this.triggerRedis, this.resultsRedis]) client?.disconnect();
    this.store?.close();
    this.api = undefined;
    this.triggers = undefined;
    this.results = undefined;
    this.engine = undefined;
    this.store = undefined;
  }
}
