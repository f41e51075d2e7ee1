import { encodeJsonMessage, silentLogger, slothEventSchema, type Labels, type Logger, type RedisKeys, type SlothEvent } from '@sloth/core';
import type { ResourceInfo } from './records.js';
import type { SqliteStore } from './store/sqlite-store.js';
import type { AgentRecord, AgentState } from './store/store-types.js';

/** Appends fields to a Redis stream; an ioredis client satisfies it. */
export interface StreamWriter {
  xadd(key: string, ...args: Array<string | number>): Promise<unknown>;
}

/** Where agent events go: an ioredis client, or a function publishing one event's stream fields. */
export type EventSink = StreamWriter | ((stream: string, fields: string[]) => Promise<unknown>);

export interface AgentRegistryOptions {
  readonly store: Pick<SqliteStore, 'listAgents' | 'putAgents' | 'setAgentState'>;
  readonly redis?: EventSink;
  readonly keys: RedisKeys;
  /** How often agents report. */
  readonly expectedIntervalMillis: number;
  /** Silent for this many intervals → down. @defaultValue 3 */
  readonly downAfterIntervals?: number;
  /** How often to look for silent agents. @defaultValue min(expectedIntervalMillis, 5000) */
  readonly checkIntervalMillis?: number;
  /** Approximate cap of the events stream. @defaultValue 10000 */
  readonly eventsMaxLength?: number;
  readonly logger?: Logger;
}

/** An agent as the query API reports it. */
export type AgentView = AgentRecord;

/**
 * Every resource that sends data is an agent (keyed by `service.instance.id`,
 * else `host.name`). Tracks first/last seen, marks an agent `down` when it has
 * been silent for `downAfterIntervals` intervals, and publishes `agent_down` /
 * `agent_up` events on the events stream.
 */
export class AgentRegistry {
  private readonly agents = new Map<string, { record: AgentRecord; dirty: boolean }>();
  private readonly options: AgentRegistryOptions;
  private readonly logger: Logger;
  private readonly downAfterMillis: number;
  private timer: NodeJS.Timeout | undefined;
  private readonly pending = new Set<Promise<unknown>>();

  constructor(options: AgentRegistryOptions) {
    if (!(options.expectedIntervalMillis > 0)) throw new Error(`expectedIntervalMillis must be positive, got ${options.expectedIntervalMillis}`);
    this.options = options;
    this.logger = options.logger ?? silentLogger();
    this.downAfterMillis = (options.downAfterIntervals ?? 3) * options.expectedIntervalMillis;
    for (const record of options.store.listAgents()) this.agents.set(record.id, { record, dirty: false });
  }

  /** Records that these resources sent data at `nowMillis`. Agents coming back publish `agent_up`. */
  observe(resources: readonly ResourceInfo[], nowMillis: number): void {
    for (const resource of resources) {
      const known = this.agents.get(resource.agentId);
      if (known === undefined) {
        const record: AgentRecord = {
          id: resource.agentId,
          principal: resource.principal,
          state: 'up',
          firstSeenMillis: nowMillis,
          lastSeenMillis: nowMillis,
          attributes: resource.attributes,
        };
        this.agents.set(record.id, { record, dirty: true });
        this.publish('agent_up', record, nowMillis, { reason: 'first_seen' });
        continue;
      }
      const wasDown = known.record.state === 'down';
      known.record = {
        ...known.record,
        principal: resource.principal,
        state: 'up',
        lastSeenMillis: Math.max(known.record.lastSeenMillis, nowMillis),
        attributes: resource.attributes,
      };
      known.dirty = true;
      if (wasDown) this.publish('agent_up', known.record, nowMillis, { reason: 'resumed' });
    }
  }

  /** Marks agents silent for too long as down (publishing `agent_down`) and persists changes. Returns the agents marked down. */
  check(nowMillis: number): string[] {
    const markedDown: string[] = [];
    for (const entry of this.agents.values()) {
      if (entry.record.state === 'up' && nowMillis - entry.record.lastSeenMillis >= this.downAfterMillis) {
        entry.record = { ...entry.record, state: 'down' };
        entry.dirty = true;
        markedDown.push(entry.record.id);
        this.publish('agent_down', entry.record, nowMillis, { silentMillis: nowMillis - entry.record.lastSeenMillis });
      }
    }
    this.flush();
    return markedDown;
  }

  /** Persists agents changed since the last flush. */
  flush(): void {
    const dirty = [...this.agents.values()].filter((e) => e.dirty);
    if (dirty.length === 0) return;
    try {
      this.options.store.putAgents(dirty.map((e) => e.record));
      for (const entry of dirty) entry.dirty = false;
    } catch (error) {
      this.logger.error({ err: error }, 'cannot persist agents');
    }
  }

  /** Starts the periodic down check. */
  start(): void {
    if (this.timer !== undefined) return;
    const every = this.options.checkIntervalMillis ?? Math.min(this.options.expectedIntervalMillis, 5_000);
    this.timer = setInterval(() => this.check(Date.now()), every);
    this.timer.unref();
  }

  list(): AgentView[] {
    return [...this.agents.values()].map((e) => e.record).sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  get(agentId: string): AgentView | undefined {
    return this.agents.get(agentId)?.record;
  }

  state(agentId: string): AgentState | undefined {
    return this.agents.get(agentId)?.record.state;
  }

  /** Stops the timer, persists state and waits (up to 2 s) for events in flight. */
  async shutdown(): Promise<void> {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
    this.flush();
    if (this.pending.size > 0) {
      let timeout: NodeJS.Timeout | undefined;
      await Promise.race([
        Promise.allSettled([...this.pending]),
        new Promise<void>((resolve) => {
          timeout = setTimeout(resolve, 2_000);
        }),
      ]);
      clearTimeout(timeout);
    }
  }

  private publish(type: 'agent_up' | 'agent_down', record: AgentRecord, nowMillis: number, extra: Record<string, unknown>): void {
    this.logger.info({ agentId: record.id, type }, type === 'agent_down' ? 'agent is down' : 'agent is up');
    const sink = this.options.redis;
    if (sink === undefined) return;
    const event: SlothEvent = slothEventSchema.parse({
      type,
      agentId: record.id,
      timestampMillis: nowMillis,
      attributes: { ...attributesOf(record.attributes), principal: record.principal, lastSeenMillis: record.lastSeenMillis, ...extra },
    });
    const fields = encodeJsonMessage(event);
    const stream = this.options.keys.events;
    const maxLength = this.options.eventsMaxLength ?? 10_000;
    let sent: Promise<unknown>;
    try {
      sent =
        typeof sink === 'function' ? sink(stream, fields) : sink.xadd(stream, 'MAXLEN', '~', maxLength, '*', ...fields);
    } catch (error) {
      sent = Promise.reject(error instanceof Error ? error : new Error(String(error)));
    }
    const tracked = sent.then(
      () => undefined,
      (error: unknown) => {
        // Redis being away must not stop the registry; the state is in the store either way.
        this.logger.warn({ err: error, agentId: record.id, type }, 'cannot publish agent event');
      },
    );
    this.pending.add(tracked);
    void tracked.finally(() => this.pending.delete(tracked));
  }
}

function attributesOf(labels: Labels): Record<string, string> {
  return { ...labels };
}
