import type { Redis } from 'ioredis';
import { encodeJsonMessage, type Logger, type RedisKeys, type SlothEvent } from '@sloth/core';
import type { Transition } from './check-state.js';

/**
 * Publishes health-check transitions on `sloth:events` as
 * `{ type: 'health_check', agentId, attributes: { check, state, previous, message } }`,
 * so the scheduler can match `{ event = { type = "health_check", check = …, state = … } }`
 * triggers. A Redis failure is logged, never thrown: checks keep running.
 */
export class HealthEventPublisher {
  constructor(
    private readonly options: { redis: Redis; keys: RedisKeys; agentId: string; logger: Logger; maxStreamLength?: number },
  ) {}

  async publish(transition: Transition): Promise<void> {
    const event: SlothEvent = {
      type: 'health_check',
      agentId: this.options.agentId,
      timestampMillis: transition.result.atMillis,
      attributes: { check: transition.check, state: transition.to, previous: transition.from, message: transition.result.message },
    };
    try {
      await this.options.redis.xadd(this.options.keys.events, 'MAXLEN', '~', this.options.maxStreamLength ?? 100_000, '*', ...encodeJsonMessage(event));
    } catch (error) {
      this.options.logger.warn({ err: error, check: transition.check }, 'cannot publish the health-check transition on the events stream');
    }
  }
}
