import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { queueNames, QueryClient, type JobSigningKey, type Logger, type MetricsRegistry, type RedisKeys } from '@sloth/core';
import type { SchedulablePlaybook } from '../playbook-catalogue.js';
import { actuatorFor, type Actuator } from './actuator.js';
import { scalingRoutes } from './api.js';
import type { ScalingTargetConfig } from './config.js';
import { ScalingController } from './controller.js';

export interface ScalingServiceOptions {
  targets: readonly ScalingTargetConfig[];
  collector: { url: string; token?: string | undefined };
  redisUrl: string;
  keys: RedisKeys;
  playbooks: () => readonly SchedulablePlaybook[];
  logger: Logger;
  metrics?: MetricsRegistry | undefined;
  /** Signs the playbook jobs of playbook actuators. */
  jobSigningKey?: JobSigningKey | undefined;
}

/** Predictive scaling, assembled: the controller, its actuators and its routes. */
export class ScalingService {
  readonly controller: ScalingController;
  private readonly redis: Redis;
  private readonly queues = new Map<string, Queue>();

  constructor(options: ScalingServiceOptions) {
    this.redis = new Redis(options.redisUrl, { maxRetriesPerRequest: null });
    this.redis.on('error', (error) => options.logger.warn({ err: error }, 'scaling Redis error'));
    const agentQueue = (agentId: string): Queue => {
      let queue = this.queues.get(agentId);
      if (queue === undefined) {
        queue = new Queue(queueNames.agent(agentId), { connection: this.redis, prefix: options.keys.queuePrefix });
        this.queues.set(agentId, queue);
      }
      return queue;
    };
    const actuators = new Map<string, Actuator>();
    for (const target of options.targets) {
      const actuator = actuatorFor(target, options.playbooks, agentQueue, options.jobSigningKey);
      if (actuator !== undefined) actuators.set(target.name, actuator);
    }
    this.controller = new ScalingController({
      targets: options.targets,
      collector: new QueryClient({ baseUrl: options.collector.url, ...(options.collector.token === undefined ? {} : { token: options.collector.token }) }),
      redis: this.redis,
      keys: options.keys,
      actuators,
      logger: options.logger,
      metrics: options.metrics,
    });
  }

  get routes(): ReturnType<typeof scalingRoutes> {
    return scalingRoutes(this.controller);
  }

  start(): void {
    this.controller.start();
  }

  async shutdown(): Promise<void> {
    await this.controller.shutdown();
    for (const queue of this.queues.values()) await queue.close();
    this.redis.disconnect();
  }
}
