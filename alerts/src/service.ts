import { existsSync } from 'node:fs';
import { dirname } from 'node:path';
import { hostname } from 'node:os';
import { Redis } from 'ioredis';
import {
  anomalyEventSchema,
  ConfigError,
  forecastMessageSchema,
  isSlothError,
  listenApi,
  MetricsEndpoint,
  QueryClient,
  redisKeys,
  silentLogger,
  slothEventSchema,
  StreamConsumer,
  TokenSet,
  type BoundAddress,
  type ConfigProblem,
  type Logger,
  type RedisKeys,
  type StreamEntry,
} from '@sloth/core';
import { AlertStateStore } from './alert-state-store.js';
import { createAlertsApi } from './api.js';
import { loadAlertsFile, parseAlertsFile, type AlertsFile } from './alerts-file.js';
import { tokenSpecs, type AlertsConfig } from './config.js';
import { ForecastGrader } from './forecast-grader.js';
import { AlertsEngine } from './engine.js';
import { AlertsMetrics, MeteredDelivery } from './metrics.js';
import { NotificationLog } from './notification-log.js';
import { buildIntegrations } from './receivers/factory.js';
import { RedisSlackThreads } from './receivers/slack.js';
import { RulesWatcher } from './rules-watcher.js';
import { SignalStore } from './signals.js';
import { Silences } from './silences.js';

export interface AlertsServiceOptions {
  config: AlertsConfig;
  /** Resolved Redis URL (`sloth up` may have started one). */
  redisUrl: string;
  logger?: Logger;
  /** Collector token when the config has none (`sloth up` passes its local token). */
  collectorToken?: string | undefined;
  /** How often due groups are flushed. @defaultValue 1000 */
  tickMillis?: number;
  /** When the configured port is taken, listen on a free one instead of failing (`sloth up` without an explicit port). @defaultValue false */
  anyPortIfTaken?: boolean;
  /**
   * When the metrics port is taken, serve `/metrics` on a free port instead of failing (the CLI sets it
   * when no `--metrics-port` was given). @defaultValue true
   */
  anyMetricsPortIfTaken?: boolean;
  /**
   * Nobody named the alerts file (the default `./alerts.yaml` is in use): when it does not exist, run
   * with no rules and load it once it is created. When false, a missing alerts file fails the start.
   * @defaultValue false
   */
  rulesFileOptional?: boolean;
}

/** A named alerts file that does not exist: the start fails naming it, rather than alerting on nothing. */
export function missingRulesFileProblem(path: string): ConfigProblem {
  return { key: 'alerts.rules', source: '--rules, alerts.rules or SLOTH_ALERTS_RULES', value: path, message: `the alerts file ${path} does not exist: create it, or name an existing one` };
}

/**
 * The alerts role: follows `sloth:anomalies`, `sloth:forecasts` and
 * `sloth:events`, evaluates the rules of the alerts file on its interval,
 * routes and delivers notifications, and serves the API with the
 * Alertmanager intake.
 */
export class AlertsService {
  private readonly options: AlertsServiceOptions;
  private readonly logger: Logger;
  private redis: Redis | undefined;
  private streamRedis: Redis | undefined;
  private consumer: StreamConsumer | undefined;
  private watcher: RulesWatcher | undefined;
  private app: ReturnType<typeof createAlertsApi> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private running = false;
  private loop: Promise<void> | undefined;
  private lastEvaluationMillis = 0;
  private metricsEndpoint: MetricsEndpoint | undefined;
  private delivery: MeteredDelivery | undefined;
  private state: AlertStateStore | undefined;
  engine: AlertsEngine | undefined;
  listening: BoundAddress | undefined;
  /** Alerts pending and firing, notifications, dead letters, evaluation time and forecast-rule grades, served on `/metrics`. */
  readonly metrics = new AlertsMetrics(
    () => this.engine?.list(Date.now()) ?? [],
    () => this.engine?.grader.scores() ?? [],
  );
  readonly signals = new SignalStore();

  constructor(options: AlertsServiceOptions) {
    this.options = options;
    this.logger = options.logger ?? silentLogger();
  }

  async start(): Promise<void> {
    const { config } = this.options;
    const keys = redisKeys(config.redisPrefix);
    const tokens = new TokenSet(tokenSpecs(config.tokens), { insecureNoAuth: config.insecureNoAuth });
    if (tokens.size === 0 && !config.insecureNoAuth) this.logger.warn('the alerts API has no tokens: every request will be refused (give --token or --insecure-no-auth)');
    const file = this.loadRules(config.rules);
    this.redis = this.quietErrors(new Redis(this.options.redisUrl, { maxRetriesPerRequest: 2, lazyConnect: true }), 'commands');
    await this.redis.connect();
    this.streamRedis = this.quietErrors(this.redis.duplicate({ maxRetriesPerRequest: null }), 'streams');
    const now = Date.now();
    this.signals.lastAnalyticsMillis = now;
    const silences = new Silences({ redis: this.redis, keys });
    await silences.refresh(now);
    const log = new NotificationLog({ redis: this.redis, keys });
    await log.load(now);
    const delivery = new MeteredDelivery({ redis: this.redis, keys, logger: this.logger }, this.metrics);
    this.delivery = delivery;
    const port = config.port;
    const publicUrl = config.publicUrl ?? `http://127.0.0.1:${port}`;
    const threads = new RedisSlackThreads(this.redis, keys);
    const redis = this.redis;
    const values = new QueryClient({ baseUrl: config.collectorUrl, token: config.collectorToken ?? this.options.collectorToken });
    const grader = new ForecastGrader({ values, redis, keys });
    await grader.load();
    const state = new AlertStateStore({ redis, keys, logger: this.logger });
    this.state = state;
    this.engine = new AlertsEngine({
      file,
      signals: this.signals,
      values,
      grader,
      state,
      silences,
      log,
      delivery,
      clock: Date.now,
      logger: this.logger,
      integrations: (receiver) =>
        buildIntegrations(receiver, {
          redis,
          keys,
          links: { dashboard: this.engine?.alertsFile.links.dashboard, silence: this.engine?.alertsFile.links.silence },
          externalUrl: publicUrl,
          threads,
          remediationOf: (agentId) => this.signals.remediations.get(agentId),
        }),
    });
    // Before the stream consumer: events that arrived while the role was down (an agent_up) apply on top of it.
    await this.engine.restore(now);
    // A missing file is watched too (when its directory exists): creating it loads it.
    if (existsSync(dirname(config.rules))) {
      this.watcher = new RulesWatcher({ path: config.rules, apply: (next) => this.engine?.reload(next), logger: this.logger, secretFiles: file.secretFiles });
      this.watcher.start();
    }
    this.consumer = await this.startConsumer(keys);
    this.app = createAlertsApi({ engine: this.engine, silences, log, delivery, watcher: this.watcher, tokens, logger: this.logger, clock: Date.now });
    try {
      this.listening = await listenApi(this.app, { port, host: config.host });
    } catch (error) {
      if (this.options.anyPortIfTaken !== true || !isSlothError(error) || error.code !== 'SLOTH_ERR_PORT_IN_USE') {
        await this.shutdown();
        throw error;
      }
      this.logger.warn({ port }, 'the alerts port is taken; listening on a free port instead');
      this.listening = await listenApi(this.app, { port: 0, host: config.host });
    }
    if (config.metricsPort !== 0) {
      try {
        this.metricsEndpoint = await this.serveMetrics(config.metricsPort);
      } catch (error) {
        await this.shutdown();
        throw error;
      }
    }
    this.running = true;
    this.schedule();
    this.logger.info({ url: this.listening.url, rules: file.rules.length, file: file.path }, 'alerts role started');
  }

  /** The port `/metrics` is served on, once started; 0 when disabled. */
  get metricsPort(): number {
    return this.metricsEndpoint?.port ?? 0;
  }

  private async serveMetrics(port: number): Promise<MetricsEndpoint> {
    const endpoint = (at: number): MetricsEndpoint =>
      new MetricsEndpoint({ host: this.options.config.host, port: at, render: () => this.metrics.render(), portInUseMessage: (p) => `the alerts metrics port ${p} is already in use: stop the other process, choose another with --metrics-port, or 0 to turn /metrics off` });
    const first = endpoint(port);
    try {
      await first.start();
      return first;
    } catch (error) {
      if (this.options.anyMetricsPortIfTaken === false || !isSlothError(error) || error.code !== 'SLOTH_ERR_PORT_IN_USE') throw error;
      const fallback = endpoint(0);
      await fallback.start();
      this.logger.warn({ port, boundPort: fallback.port }, 'the alerts metrics port is taken; serving /metrics on a free port instead (give --metrics-port to fail instead)');
      return fallback;
    }
  }

  private loadRules(path: string): AlertsFile {
    if (existsSync(path)) return loadAlertsFile(path);
    if (this.options.rulesFileOptional !== true) throw new ConfigError([missingRulesFileProblem(path)]);
    this.logger.warn({ path }, 'no alerts file: running with no rules and one receiver with no integrations until it is created');
    return parseAlertsFile('{}', path);
  }

  /**
   * ioredis prints a multi-line stack trace for every connection error nobody listens to (62 in a 25 s
   * outage): one warning line instead, at most once a minute per client, with how many were left out.
   */
  private quietErrors(redis: Redis, client: string): Redis {
    let lastMillis = Number.NEGATIVE_INFINITY;
    let unlogged = 0;
    redis.on('error', (error: Error) => {
      const now = Date.now();
      if (now - lastMillis < 60_000) {
        unlogged += 1;
        return;
      }
      this.logger.warn({ client, problem: error.message, unlogged }, 'Redis connection error; reconnecting (logged at most once a minute)');
      lastMillis = now;
      unlogged = 0;
    });
    return redis;
  }

  private async startConsumer(keys: RedisKeys): Promise<StreamConsumer> {
    const redis = this.redis as Redis;
    const cursorKey = keys.key('alerts', 'cursor', hostname());
    const stored = await redis.hgetall(cursorKey);
    const consumer = new StreamConsumer({
      redis: this.streamRedis as Redis,
      streams: [keys.anomalies, keys.forecasts, keys.events],
      // Follow mode: every alerts process needs every entry to hold the same incident state.
      cursor: {
        load: (stream) => stored[stream],
        save: (stream, id) => {
          void redis.hset(cursorKey, stream, id).catch(() => undefined);
        },
      },
      handle: async (entries, delivery) => this.handle(keys, delivery.stream, entries),
      logger: this.logger,
    });
    await consumer.start();
    return consumer;
  }

  private async handle(keys: RedisKeys, stream: string, entries: readonly StreamEntry[]): Promise<void> {
    const now = Date.now();
    for (const [id, fields] of entries) {
      const at = fields.indexOf('data');
      let raw: unknown;
      try {
        raw = JSON.parse(fields[at + 1] ?? '');
      } catch {
        this.logger.warn({ stream, entryId: id }, 'ignoring a stream entry that is not JSON');
        continue;
      }
      if (stream === keys.anomalies) {
        const parsed = anomalyEventSchema.safeParse(raw);
        if (parsed.success) this.signals.addAnomaly({ ...(raw as object), ...parsed.data }, now);
        else this.logger.warn({ stream, entryId: id, problem: parsed.error.issues[0]?.message }, 'ignoring a malformed anomaly');
      } else if (stream === keys.forecasts) {
        const parsed = forecastMessageSchema.safeParse(raw);
        if (parsed.success) this.signals.addForecast(parsed.data, now);
      } else {
        const parsed = slothEventSchema.safeParse(raw);
        if (parsed.success) this.signals.addEvent(parsed.data);
      }
    }
  }

  private schedule(): void {
    const tick = this.options.tickMillis ?? 1000;
    this.timer = setTimeout(() => {
      this.loop = this.tick().finally(() => {
        if (this.running) this.schedule();
      });
    }, tick);
  }

  private async tick(): Promise<void> {
    const engine = this.engine as AlertsEngine;
    const now = Date.now();
    try {
      if (now - this.lastEvaluationMillis >= engine.alertsFile.evaluationIntervalMillis) {
        this.lastEvaluationMillis = now;
        const started = performance.now();
        await engine.evaluate(now);
        this.metrics.evaluated((performance.now() - started) / 1000, now);
      }
      engine.route(now);
    } catch (error) {
      this.logger.error({ err: error }, 'alerts cycle failed; trying again next tick');
    }
  }

  /**
   * Stops evaluating and delivering: retry and rate-limit waits end at once and no further attempt
   * starts; requests in flight get at most `waitMillis`, then are cancelled. Nothing is sent once this
   * returns. What was not delivered stays out of the notification log, so the next process sends it.
   * Then closes the API, the consumer and Redis.
   */
  async shutdown(waitMillis = 10_000): Promise<void> {
    this.running = false;
    clearTimeout(this.timer);
    await this.loop;
    this.delivery?.stop();
    this.watcher?.shutdown();
    await this.app?.close();
    await this.metricsEndpoint?.shutdown();
    this.metricsEndpoint = undefined;
    await this.consumer?.shutdown();
    if (this.engine !== undefined) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([this.engine.idle(), new Promise<void>((resolve) => (timer = setTimeout(resolve, waitMillis)))]);
      clearTimeout(timer);
      this.delivery?.abort();
      await this.engine.idle();
    }
    await this.state?.flush().catch(() => undefined);
    this.streamRedis?.disconnect();
    await this.redis?.quit().catch(() => undefined);
  }
}
