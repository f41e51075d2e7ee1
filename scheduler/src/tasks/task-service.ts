import { Redis } from 'ioredis';
import { QueryClient, type JobSigningKey, type Logger, type RedisKeys } from '@sloth/core';
import type { SchedulablePlaybook } from '../playbook-catalogue.js';
import { AgentInventory } from '../placement/inventory.js';
import { ReservationLedger } from '../placement/reservations.js';
import { taskRoutes } from './api.js';
import type { TasksConfig } from './config.js';
import { TaskManager, type TaskManagerOptions } from './task-manager.js';
import { TaskMonitor } from './task-monitor.js';
import { TaskStore } from './task-store.js';

export interface TaskServiceOptions {
  config: TasksConfig;
  redisUrl: string;
  keys: RedisKeys;
  consumerName: string;
  playbooks: () => readonly SchedulablePlaybook[];
  logger: Logger;
  /** Period of the down-agent and timeout check. @defaultValue 1000 */
  checkMillis?: number;
  /** Tasks placed at once. @defaultValue 32 */
  concurrency?: number;
  /** Time a run may take beyond its task timeout before it counts as timed out. @defaultValue 30000 */
  timeoutGraceMillis?: number;
  /** See {@link TaskManagerOptions.onPlacement}. */
  onPlacement?: TaskManagerOptions['onPlacement'];
  /** The scheduler's secrets masked in run results besides the collector token, which is always masked. @defaultValue none */
  knownSecrets?: readonly string[];
  /** See {@link TaskManagerOptions.jobSigningKey}. */
  jobSigningKey?: JobSigningKey | undefined;
}

/**
 * Tasks and placement, assembled: the store, the reservation ledger, the
 * agent inventory, the placement worker on `tasks` and the monitor. The
 * scheduler starts it and registers {@link TaskService.routes} on its API.
 */
export class TaskService {
  readonly store: TaskStore;
  readonly ledger: ReservationLedger;
  readonly inventory: AgentInventory;
  readonly manager: TaskManager;
  private readonly monitor: TaskMonitor;
  private readonly connections: Redis[];
  private timer: NodeJS.Timeout | undefined;
  /** Checks in progress, by name: a check does not start again while its last run is still going. */
  private readonly checking = new Map<string, Promise<void>>();
  private readonly options: TaskServiceOptions;

  constructor(options: TaskServiceOptions) {
    this.options = options;
    const { config, keys, logger } = options;
    const connect = (autoPipelining = false): Redis => {
      const client = new Redis(options.redisUrl, { maxRetriesPerRequest: null, enableAutoPipelining: autoPipelining });
      client.on('error', (error) => logger.warn({ err: error }, 'task service Redis error'));
      return client;
    };
    const redis = connect();
    const workerRedis = connect();
    const streamRedis = connect();
    // Records, reservations and forecasts: commands of concurrent placements issued in one tick
    // share one write. BullMQ's queues keep a connection without it (BullMQ is not built for it).
    const dataRedis = connect(true);
    this.connections = [redis, workerRedis, streamRedis, dataRedis];
    this.store = new TaskStore(dataRedis, keys);
    this.ledger = new ReservationLedger(dataRedis, keys);
    this.inventory = new AgentInventory({
      collector: new QueryClient({ baseUrl: config.collectorUrl, ...(config.collectorToken === undefined ? {} : { token: config.collectorToken }) }),
      ledger: this.ledger,
      redis: dataRedis,
      keys,
      metricsLagMillis: config.metricsLagSeconds * 1000,
    });
    this.manager = new TaskManager({
      redis,
      workerRedis,
      keys,
      store: this.store,
      ledger: this.ledger,
      inventory: this.inventory,
      placement: { defaultStrategy: config.defaultStrategy, maxMetricsAgeMillis: config.maxMetricsAgeSeconds * 1000, maxConcurrentPerAgent: config.maxTasksPerAgent },
      allowedCommands: config.allowedCommands,
      playbooks: options.playbooks,
      logger,
      waitRetryMillis: config.waitRetrySeconds * 1000,
      ...(options.concurrency === undefined ? {} : { concurrency: options.concurrency }),
      onPlacement: options.onPlacement,
      jobSigningKey: options.jobSigningKey,
    });
    this.monitor = new TaskMonitor({
      streamRedis,
      keys,
      store: this.store,
      manager: this.manager,
      inventory: this.inventory,
      logger,
      consumer: options.consumerName,
      ...(options.timeoutGraceMillis === undefined ? {} : { timeoutGraceMillis: options.timeoutGraceMillis }),
      knownSecrets: [...(options.knownSecrets ?? []), ...(config.collectorToken === undefined ? [] : [config.collectorToken])],
    });
  }

  /** The API routes (register on the scheduler's app). */
  get routes(): ReturnType<typeof taskRoutes> {
    return taskRoutes(this);
  }

  async start(): Promise<void> {
    await this.manager.start();
    await this.monitor.start();
    // Two checks, each with its own guard: a slow look for lost placement jobs must not hold back the
    // down-agent and timeout check.
    this.timer = setInterval(() => {
      this.runCheck('down agents, timeouts', () => this.monitor.check());
      this.runCheck('lost placement jobs', () => this.manager.checkPlacementJobs());
    }, this.options.checkMillis ?? 1000);
  }

  /** Starts check `name` unless its last run is still going; a failure is logged. */
  private runCheck(name: string, check: () => Promise<unknown>): void {
    if (this.checking.has(name)) return;
    const run = check()
      .then(() => undefined)
      .catch((error: unknown) => this.options.logger.warn({ err: error }, `task check (${name}) failed`))
      .finally(() => this.checking.delete(name));
    this.checking.set(name, run);
  }

  /** Runs the down-agent and timeout check now (tests, and the CLI's `task` tooling). */
  async check(): Promise<{ requeued: number; timedOut: number }> {
    return this.monitor.check();
  }

  async shutdown(): Promise<void> {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
    await Promise.all(this.checking.values());
    await this.manager.shutdown();
    await this.monitor.shutdown();
    for (const connection of this.connections) connection.disconnect();
  }
}
