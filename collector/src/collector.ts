import { join } from 'node:path';
import { Readable } from 'node:stream';
import { setImmediate as nextTurn } from 'node:timers/promises';
import type { FastifyInstance } from 'fastify';
import { Redis } from 'ioredis';
import { apiRoutes, createApi, listenApi, redisKeys, SlothError, TokenSet, type ApiRouteRecord, type Logger } from '@sloth/core';
import { AgentRegistry } from './agent-registry.js';
import { collectorCredentials } from './auth.js';
import type { CollectorSettings } from './config.js';
import { prometheusContentType, seriesExposition } from './exposition.js';
import { EventLoopLag } from './event-loop-lag.js';
import { defaultMaxPointsPerTransaction, IngestPipeline, type IngestStore } from './ingest-pipeline.js';
import { LatencyBudget } from './latency-budget.js';
import { LatestValues } from './latest-values.js';
import { limitedAdmission, SeriesLimiter, settleRejections, type PointLimitSettings } from './limits-series.js';
import { SeriesCache } from './series-cache.js';
import { buildOtlpApp } from './otlp-http.js';
import { SamplePublisher } from './publisher.js';
import { registerQueryApi } from './query-api.js';
import { RemoteWriteSet } from './remote-write/remote-write-set.js';
import { SelfMetrics } from './self-metrics.js';
import { SqliteStore } from './store/sqlite-store.js';
import { StoreWriter } from './store/store-writer.js';
import { WriteAheadLog } from './wal.js';

export interface CollectorAddresses {
  /** OTLP/HTTP and query API base URL. */
  readonly otlpUrl: string;
  /** Prometheus exposition URL (`…/metrics`). */
  readonly metricsUrl: string;
  /** `address:port` the OTLP/query API socket is bound to (`0.0.0.0:4318` means every interface). */
  readonly otlpBound: string;
  /** `address:port` of the `/metrics` socket. */
  readonly metricsBound: string;
}

/**
 * The collector: OTLP/HTTP in, write-ahead log, SQLite store, Redis samples
 * stream, Prometheus `/metrics` and the query API.
 */
export class Collector {
  private readonly settings: CollectorSettings;
  private readonly logger: Logger;
  private store: SqliteStore | undefined;
  private storeWriter: StoreWriter | undefined;
  private pipeline: IngestPipeline | undefined;
  private publisher: SamplePublisher | undefined;
  private remoteWrite: RemoteWriteSet | undefined;
  private eventsRedis: Redis | undefined;
  private registry: AgentRegistry | undefined;
  private eventLoopLag: EventLoopLag | undefined;
  private app: FastifyInstance | undefined;
  private metricsApp: FastifyInstance | undefined;
  private addresses: CollectorAddresses | undefined;
  private tokensLoaded = 0;
  private stopping: Promise<void> | undefined;

  constructor(settings: CollectorSettings, options: { logger: Logger }) {
    this.settings = settings;
    this.logger = options.logger;
  }

  /** Where it listens, once started. */
  get urls(): CollectorAddresses {
    if (this.addresses === undefined) throw new Error('the collector is not started');
    return this.addresses;
  }

  /** Tokens the OTLP and query API port accepts: listed, from token files, and admin tokens (for the start-up banner). */
  get tokenCount(): number {
    return this.tokensLoaded;
  }

  /** Every route of the OTLP/query port and of the metrics port, with how each answers (core's `apiRoutes`). */
  get routes(): { readonly api: readonly ApiRouteRecord[]; readonly metrics: readonly ApiRouteRecord[] } {
    if (this.app === undefined || this.metricsApp === undefined) throw new Error('the collector is not started');
    return { api: apiRoutes(this.app), metrics: apiRoutes(this.metricsApp) };
  }

  async start(): Promise<CollectorAddresses> {
    const s = this.settings;
    // Token files are read once, here: a bad file, or one secret in two roles, stops the start with a message naming it.
    const { tokens, metricsToken } = collectorCredentials(s);
    if (!s.insecureNoAuth && tokens.size === 0) {
      throw new SlothError('SLOTH_ERR_CONFIG', 'the collector needs at least one token (--token SECRET[:name], --token-file PATH, --admin-token, or collector.tokens in the config file), or --insecure-no-auth for local use');
    }
    this.tokensLoaded = tokens.size;
    if ((s.tlsCert === undefined) !== (s.tlsKey === undefined)) {
      throw new SlothError('SLOTH_ERR_CONFIG', 'TLS needs both a certificate (--tls-cert) and a key (--tls-key)');
    }
    if (s.insecureNoAuth) {
      this.logger.warn('*** AUTHENTICATION IS OFF (--insecure-no-auth): anyone who can reach this port can write data and read the query API. Use it only on a trusted local machine. ***');
    }
    const storeOptions = { dataDir: s.dataDir, retentionMillis: s.retentionDays * 86_400_000, logger: this.logger, cacheMb: s.storeCacheMb };
    // With the writer thread, writes (and retention) run there and `reader` serves queries;
    // without it one SqliteStore does both on the main thread.
    let writable: SqliteStore | StoreWriter;
    let store: SqliteStore;
    if (s.storeWorker) {
      this.storeWriter = await StoreWriter.open({ ...storeOptions, ...(s.storeHeadSeconds > 0 ? { headMaxMillis: s.storeHeadSeconds * 1000 } : {}) });
      writable = this.storeWriter;
      store = this.storeWriter.reader;
    } else {
      store = SqliteStore.open(storeOptions);
      this.store = store;
      writable = store;
    }
    const keys = redisKeys(s.redisPrefix);
    const latest = new LatestValues(store.latestPoints());
    // Series that retention removed disappear from /metrics and /latest too.
    const limiter = new SeriesLimiter({ maxSeriesPerAgent: s.maxSeriesPerAgent, stored: writable });
    writable.onSeriesRemoved((removed) => {
      latest.delete(removed);
      limiter.forget(removed);
    });
    const budget = new LatencyBudget({ budgetMillis: s.latencyBudgetMillis, minRetryAfterSeconds: s.retryAfterSeconds, maxPointsPerTransaction: defaultMaxPointsPerTransaction });
    // The budget's feedback: how late the loop runs is how long a new request waits before it is read.
    this.eventLoopLag = new EventLoopLag((lagMillis) => budget.observeEventLoopLag(lagMillis));
    this.eventLoopLag.start();
    const metrics = new SelfMetrics({
      queueDepth: () => this.pipeline?.queueDepth ?? 0,
      activeSeries: () => limiter.activeSeries(),
      streamBuffered: () => this.publisher?.pending ?? 0,
      latencyBudgetSeconds: () => budget.budgetMillis / 1000,
      estimatedWaitSeconds: () => budget.estimatedMillis / 1000,
    });

    const redisUrl = s.redisUrl;
    let publisher: SamplePublisher | undefined;
    if (redisUrl !== undefined && s.publishSamples) {
      publisher = new SamplePublisher({
        redisUrl,
        streamKey: keys.samples,
        maxLength: s.streamMaxLength,
        bufferSamples: s.streamBufferSamples,
        logger: this.logger,
        onDropped: (n) => metrics.addStreamDropped(n),
        onPublished: (n) => metrics.addStreamPublished(n),
      });
      this.publisher = publisher;
      await publisher.start();
    }
    if (redisUrl !== undefined) {
      this.eventsRedis = new Redis(redisUrl, { lazyConnect: false, enableOfflineQueue: false, maxRetriesPerRequest: 1, retryStrategy: (t) => Math.min(100 * t, 2_000) });
      this.eventsRedis.on('error', () => undefined);
    }
    const eventsRedis = this.eventsRedis;
    const registry = new AgentRegistry({
      store: writable,
      ...(eventsRedis === undefined ? {} : { redis: eventsRedis }),
      keys,
      expectedIntervalMillis: s.expectedIntervalSeconds * 1000,
      downAfterIntervals: s.agentDownIntervals,
      logger: this.logger,
    });
    this.registry = registry;

    const limits: PointLimitSettings = {
      maxLabelsPerPoint: s.maxLabelsPerPoint,
      maxLabelValueBytes: s.maxLabelValueBytes,
      maxNameBytes: s.maxNameBytes,
      maxUnitBytes: s.maxUnitBytes,
      maxAttributesPerRecord: s.maxAttributesPerRecord,
      maxAttributeValueBytes: s.maxAttributeValueBytes,
      maxLogBodyBytes: s.maxLogBodyBytes,
      maxFutureSkewMillis: s.maxFutureSkewSeconds * 1000,
    };
    // Replay admits with the same label limits as requests did. The cache keeps no string longer than those
    // limits allow (a UTF-16 unit is at least one UTF-8 byte): such series are rejected, and must not fill it.
    const series = { cache: new SeriesCache(undefined, Math.max(s.maxLabelValueBytes, s.maxNameBytes, s.maxUnitBytes)), admit: limitedAdmission(limits, limiter.admit) };
    const wal = new WriteAheadLog({ dir: join(s.dataDir, 'collector', 'wal'), segmentBytes: s.walSegmentBytes, logger: this.logger });
    let remoteWrite: RemoteWriteSet | undefined;
    // Without a head the pipeline sees a store whose writes commit at once.
    const storeWriter = this.storeWriter;
    const ingestStore: IngestStore =
      storeWriter !== undefined && s.storeHeadSeconds === 0 ? { write: async (batches, checkpoint) => await storeWriter.write(batches, checkpoint), lastCheckpoint: () => storeWriter.lastCheckpoint() } : writable;
    const pipeline = new IngestPipeline({
      wal,
      store: ingestStore,
      sinks: {
        stored: (points) => limiter.markStored(points),
        latest: (points) => latest.update(points),
        publish: (points) => publisher?.publish(points),
        resources: (resources, nowMillis) => registry.observe(resources, nowMillis),
        durable: (seq, points, receivedAtMillis) => remoteWrite?.offer(seq, points, receivedAtMillis),
      },
      retainAfter: () => remoteWrite?.retainAfter() ?? Number.POSITIVE_INFINITY,
      series,
      logger: this.logger,
      maxQueuedPoints: s.maxQueuedPoints,
      replayRules: (result, receivedAtMillis) => settleRejections(result, { forbidden: 0, labels: 0, labelExample: undefined }, receivedAtMillis, limits),
      maxDecompressedBytes: s.maxDecompressedBytes,
      budget,
    });
    this.pipeline = pipeline;
    if (s.remoteWrite.length > 0) {
      remoteWrite = new RemoteWriteSet({
        remotes: s.remoteWrite,
        source: { walDir: wal.directory, durableSeq: () => wal.durableSeq, decodeEntry: async (payload) => await pipeline.decodeEntry(payload) },
        dataDir: s.dataDir,
        metrics,
        logger: this.logger,
      });
      this.remoteWrite = remoteWrite;
    }
    await pipeline.recover();
    remoteWrite?.start();
    registry.start();

    // Both ports: a client that holds connections without finishing requests is cut off, and one client cannot hold them all.
    const connectionLimits = {
      maxConnections: s.maxConnections,
      maxConnectionsPerClient: s.maxConnectionsPerClient,
      headersTimeoutMillis: s.headersTimeoutSeconds * 1000,
      requestTimeoutMillis: s.requestTimeoutSeconds * 1000,
    };
    const app = buildOtlpApp({
      pipeline,
      tokens,
      series,
      limits,
      maxJsonDepth: s.maxJsonDepth,
      ...connectionLimits,
      metrics,
      logger: this.logger,
      maxBodyBytes: s.maxBodyBytes,
      maxDecompressedBytes: s.maxDecompressedBytes,
      retryAfterSeconds: s.retryAfterSeconds,
      budget,
      serverTiming: s.serverTiming,
      tls: s.tlsCert !== undefined && s.tlsKey !== undefined ? { certFile: s.tlsCert, keyFile: s.tlsKey } : undefined,
    });
    registerQueryApi(app, { store, registry, latest, caughtUp: () => pipeline.caughtUp() });
    this.app = app;

    // Prometheus' port: /metrics is public unless a metricsToken is set; nothing else is served.
    const metricsApp = createApi({
      name: 'collector metrics endpoint',
      tokens: new TokenSet(metricsToken === undefined ? [] : [{ token: metricsToken, name: 'prometheus' }]),
      logger: this.logger,
      ...connectionLimits,
    });
    metricsApp.get('/metrics', { config: { auth: metricsToken === undefined ? 'public' : 'token', nonJsonResponse: 'Prometheus text exposition, streamed' } }, async (_request, reply) => {
      async function* body(): AsyncGenerator<string> {
        const notBeforeMillis = s.metricsMaxAgeSeconds > 0 ? Date.now() - s.metricsMaxAgeSeconds * 1000 : Number.NEGATIVE_INFINITY;
        for (const chunk of seriesExposition(latest, undefined, undefined, notBeforeMillis)) {
          // '' marks a pause in the work: let requests in before going on.
          if (chunk === '') await nextTurn();
          else yield chunk;
        }
        yield await metrics.render();
      }
      return reply.type(prometheusContentType).send(Readable.from(body()));
    });
    this.metricsApp = metricsApp;

    const otlpAddress = await listenApi(app, { port: s.port, host: s.host, flag: '--port' });
    const metricsAddress = await listenApi(metricsApp, { port: s.metricsPort, host: s.host, flag: '--metrics-port' });
    this.addresses = { otlpUrl: otlpAddress.url, metricsUrl: `${metricsAddress.url}/metrics`, otlpBound: bound(otlpAddress), metricsBound: bound(metricsAddress) };
    this.logger.info(
      { otlp: this.addresses.otlpBound, metrics: this.addresses.metricsBound, tls: otlpAddress.url.startsWith('https'), auth: !s.insecureNoAuth, tokens: tokens.size, metricsAuth: metricsToken !== undefined },
      'collector listening',
    );
    return this.addresses;
  }

  /** Stops accepting requests, applies everything acknowledged, flushes the stream and closes the store. Idempotent. */
  async shutdown(): Promise<void> {
    this.stopping ??= this.stop();
    await this.stopping;
  }

  private async stop(): Promise<void> {
    this.eventLoopLag?.shutdown();
    await this.app?.close();
    await this.metricsApp?.close();
    await this.remoteWrite?.shutdown();
    await this.pipeline?.shutdown();
    await this.registry?.shutdown();
    await this.publisher?.shutdown();
    this.eventsRedis?.disconnect();
    await this.storeWriter?.close();
    this.store?.close();
    this.logger.info('collector stopped');
  }
}

function bound(address: { host: string; port: number }): string {
  return `${address.host.includes(':') ? `[${address.host}]` : address.host}:${address.port}`;
}

/** Starts a collector with validated settings (what `sloth collector` and `sloth up` call). */
export async function startCollector(settings: CollectorSettings, options: { logger: Logger }): Promise<Collector> {
  const collector = new Collector(settings, options);
  try {
    await collector.start();
  } catch (error) {
    await collector.shutdown().catch(() => undefined);
    throw error;
  }
  return collector;
}
