import { z } from 'zod';
import { loadConfig, parseTokenSpec, type ConfigSources } from '@sloth/core';
import { remoteWriteSchema, type RemoteWriteSettings } from './remote-write/remote-write-config.js';
import { defaultStoreCacheMb } from './store/store-types.js';

/**
 * One accepted bearer token and who holds it. A named token writes only for
 * agent ids matching its name (or `agents`, patterns with `*`); `admin`
 * writes for any agent (docs/security.md).
 */
export const tokenEntrySchema = z.object({
  token: z.string().min(8, 'tokens must be at least 8 characters'),
  name: z.string().min(1).default('default'),
  admin: z.boolean().optional(),
  agents: z.array(z.string().min(1)).optional(),
});
export type TokenEntry = z.infer<typeof tokenEntrySchema>;

/**
 * The collector's own configuration keys (the `collector:` section of the
 * config file, `SLOTH_COLLECTOR_*` in the environment, flags).
 */
export const collectorConfigShape = {
  /** OTLP/HTTP and query API port. @defaultValue 4318 */
  port: z.number().int().min(0).max(65535).default(4318),
  /** Address to listen on; `0.0.0.0` opens the collector to the network. @defaultValue `127.0.0.1` */
  host: z.string().min(1).default('127.0.0.1'),
  /** Prometheus `/metrics` port. @defaultValue 9464 */
  metricsPort: z.number().int().min(0).max(65535).default(9464),
  /** Bearer token Prometheus must send to scrape `/metrics` (its own, not an agent's); without it `/metrics` is open. */
  metricsToken: z.string().min(8, 'tokens must be at least 8 characters').optional(),
  /** File holding the metricsToken (keeps it out of `ps`); `SLOTH_COLLECTOR_METRICS_TOKEN_FILE`. */
  metricsTokenFile: z.string().min(1).optional(),
  /** Accepted bearer tokens. */
  tokens: z.array(tokenEntrySchema).default([]),
  /** File of tokens, one `SECRET[:name]` per line, mode 0600 (`--token-file`, `SLOTH_COLLECTOR_TOKEN_FILE`). */
  tokenFile: z.string().min(1).optional(),
  /** Tokens that write for any agent (`--admin-token SECRET[:name]`). */
  adminTokens: z.array(tokenEntrySchema).default([]),
  /** File of admin tokens (`--admin-token-file`, `SLOTH_COLLECTOR_ADMIN_TOKEN_FILE`). */
  adminTokenFile: z.string().min(1).optional(),
  /** Labels one point may carry (the `agent` label included); more are rejected in partial_success. @defaultValue 64 */
  maxLabelsPerPoint: z.number().int().positive().default(64),
  /** Longest label value in UTF-8 bytes; longer points are rejected in partial_success. @defaultValue 2048 */
  maxLabelValueBytes: z.number().int().positive().default(2048),
  /**
   * Longest metric name or label (attribute) key in UTF-8 bytes; longer points are rejected in partial_success.
   * OpenTelemetry caps instrument names at 255 characters, and every series keeps several copies of its name
   * and keys in memory, so an unbounded name lets one agent use up the collector's memory. @defaultValue 256
   */
  maxNameBytes: z.number().int().positive().default(256),
  /** Longest metric unit in UTF-8 bytes (OpenTelemetry caps units at 63 characters). @defaultValue 64 */
  maxUnitBytes: z.number().int().positive().default(64),
  /** Attributes one span, log record or resource may carry; more are rejected in partial_success (the OTel SDKs' default span limit). @defaultValue 128 */
  maxAttributesPerRecord: z.number().int().positive().default(128),
  /**
   * Longest span, log record or resource attribute value in UTF-8 bytes (arrays and maps as JSON), and longest span name,
   * status message and severity text. Span and log record values past it are cut to it (records kept); resources past it
   * are rejected. @defaultValue 4096
   */
  maxAttributeValueBytes: z.number().int().positive().default(4096),
  /** Longest log record body in UTF-8 bytes (a structured body as JSON); longer bodies are cut to it, the record kept. @defaultValue 16384 */
  maxLogBodyBytes: z.number().int().positive().default(16_384),
  /** Points stamped further than this ahead of the collector's clock are rejected in partial_success. @defaultValue 600 */
  maxFutureSkewSeconds: z.number().min(0).default(600),
  /** Connections open at once on each port. @defaultValue 1024 */
  maxConnections: z.number().int().positive().default(1024),
  /**
   * Connections one client address may hold open at once on each port; more are closed at once, so one client
   * cannot take every slot of `maxConnections`. Agents behind one NAT share an address: raise it for large fleets
   * behind one. @defaultValue 256
   */
  maxConnectionsPerClient: z.number().int().positive().default(256),
  /** Time to receive a request's complete headers (a connection that sends nothing is closed then too); slower ones get 408. @defaultValue 10 */
  headersTimeoutSeconds: z.number().positive().default(10),
  /** Time to receive a whole request; slower ones get 408. @defaultValue 30 */
  requestTimeoutSeconds: z.number().positive().default(30),
  /** Deepest nesting of a JSON body. @defaultValue 64 */
  maxJsonDepth: z.number().int().min(2).default(64),
  /** Accept requests without a token (local use only). @defaultValue false */
  insecureNoAuth: z.boolean().default(false),
  /** TLS certificate file (PEM); with `tlsKey` the collector serves HTTPS. */
  tlsCert: z.string().min(1).optional(),
  tlsKey: z.string().min(1).optional(),
  /** Largest request body as received (compressed). @defaultValue 4 MiB */
  maxBodyBytes: z.number().int().positive().default(4 * 1024 * 1024),
  /** Largest body after gzip decompression. @defaultValue 32 MiB */
  maxDecompressedBytes: z.number().int().positive().default(32 * 1024 * 1024),
  /** Distinct series one agent may create. @defaultValue 50,000 */
  maxSeriesPerAgent: z.number().int().positive().default(50_000),
  /** Points waiting to be written to the store before requests get 503 (they are already durable in the WAL). @defaultValue 400,000 */
  maxQueuedPoints: z.number().int().positive().default(400_000),
  /**
   * SQLite page cache of the store writer, MiB. A transaction appends one chunk row per series and
   * touches the series' index leaf; 8, 16 and 256 MiB ingested at the same rate with 20,000 series,
   * and all of it is resident under load. @defaultValue 16
   */
  storeCacheMb: z.number().int().min(2).default(defaultStoreCacheMb),
  /**
   * Latency budget of an OTLP/HTTP request, ms: a request whose estimated time (work queued ahead of it, measured
   * decoding cost, write-ahead log sync, store transactions on the event loop) is past it gets 503 with Retry-After.
   * @defaultValue 250
   */
  latencyBudgetMillis: z.number().positive().default(250),
  /** Retry-After sent with 503. @defaultValue 1 */
  retryAfterSeconds: z.number().int().positive().default(1),
  /** @defaultValue 7 */
  retentionDays: z.number().positive().default(7),
  /**
   * `/metrics` leaves out series whose newest point is older than this, so a stopped agent's last values do not
   * stay current in Prometheus until retention (its staleness, absence rules and `for:` see it gone after this);
   * 0 exposes every stored series. Prometheus' own lookback is 5 minutes. @defaultValue 300
   */
  metricsMaxAgeSeconds: z.number().nonnegative().default(300),
  /** An agent silent for this many intervals is marked down. @defaultValue 3 */
  agentDownIntervals: z.number().int().positive().default(3),
  /** How often agents are expected to send. @defaultValue 10 */
  expectedIntervalSeconds: z.number().positive().default(10),
  /** Approximate cap of the samples stream, in samples: each XADD gets MAXLEN ~ this divided by the average samples per entry (up to 1,000). @defaultValue 1,000,000 */
  streamMaxLength: z.number().int().positive().default(1_000_000),
  /** Samples buffered while Redis is unreachable before the oldest are dropped. @defaultValue 100,000 */
  streamBufferSamples: z.number().int().positive().default(100_000),
  /** Publish samples to Redis at all. @defaultValue true */
  publishSamples: z.boolean().default(true),
  /** Write to SQLite from a worker thread, so decoding and storing use two cores. @defaultValue true */
  storeWorker: z.boolean().default(true),
  /**
   * With the writer thread: longest time, in seconds, its in-memory head holds points before committing them
   * (also at 1,000,000 points, and whenever a query needs them). The store keeps one chunk row per series per
   * commit, so a longer hold means fewer, larger rows; everything held is in the write-ahead log until committed,
   * and a crash replays it. 0 commits every hand-over at once (no head). @defaultValue 10
   */
  storeHeadSeconds: z.number().min(0).max(600).default(10),
  /**
   * Prometheus remote-write endpoints every accepted metric point is forwarded to, from the write-ahead log
   * (`--remote-write-url URL`, repeatable; headers and queue settings in the config file). @defaultValue none
   */
  remoteWrite: z.array(remoteWriteSchema).default([]),
  /**
   * How far V8 lets the heap grow past the live data after a full GC, percent (`--heap-growing-percent`; one
   * given on the node command line or in NODE_OPTIONS wins). The collector's live heap is mostly its series
   * (~40 MB at 20,000), so at 30 % (the other roles' value) a full mark of all of it ran every 1-2 s at
   * 75,000 points/s; 60 % marks about half as often for ~10 MB more RSS (docs/benchmarks.md, Ingest).
   * @defaultValue 60
   */
  heapGrowingPercent: z.number().int().min(10).max(1000).default(60),
  /**
   * Answer accepted OTLP requests with a `Server-Timing` header (read, decode, WAL queue and sync, event-loop
   * resume, reply, in ms), for load tests that take the slowest requests apart (`bench/ingest`). @defaultValue false
   */
  serverTiming: z.boolean().default(false),
  /** WAL segment size before rotation. @defaultValue 64 MiB */
  walSegmentBytes: z.number().int().positive().default(64 * 1024 * 1024),
};

export interface CollectorSettings {
  readonly port: number;
  readonly host: string;
  readonly metricsPort: number;
  readonly metricsToken?: string | undefined;
  readonly metricsTokenFile?: string | undefined;
  readonly tokens: readonly TokenEntry[];
  readonly tokenFile?: string | undefined;
  readonly adminTokens: readonly TokenEntry[];
  readonly adminTokenFile?: string | undefined;
  readonly maxLabelsPerPoint: number;
  readonly maxLabelValueBytes: number;
  readonly maxNameBytes: number;
  readonly maxUnitBytes: number;
  readonly maxAttributesPerRecord: number;
  readonly maxAttributeValueBytes: number;
  readonly maxLogBodyBytes: number;
  readonly maxFutureSkewSeconds: number;
  readonly maxConnections: number;
  readonly maxConnectionsPerClient: number;
  readonly headersTimeoutSeconds: number;
  readonly requestTimeoutSeconds: number;
  readonly maxJsonDepth: number;
  readonly insecureNoAuth: boolean;
  readonly tlsCert?: string | undefined;
  readonly tlsKey?: string | undefined;
  readonly maxBodyBytes: number;
  readonly maxDecompressedBytes: number;
  readonly maxSeriesPerAgent: number;
  readonly maxQueuedPoints: number;
  readonly latencyBudgetMillis: number;
  readonly retryAfterSeconds: number;
  readonly retentionDays: number;
  readonly metricsMaxAgeSeconds: number;
  readonly agentDownIntervals: number;
  readonly expectedIntervalSeconds: number;
  readonly streamMaxLength: number;
  readonly streamBufferSamples: number;
  readonly publishSamples: boolean;
  readonly walSegmentBytes: number;
  readonly remoteWrite: readonly RemoteWriteSettings[];
  readonly storeWorker: boolean;
  readonly storeHeadSeconds: number;
  readonly storeCacheMb: number;
  readonly heapGrowingPercent: number;
  readonly serverTiming: boolean;
  // common keys
  readonly dataDir: string;
  readonly redisUrl?: string | undefined;
  readonly redisPrefix: string;
  readonly logLevel: string;
}

/** Parses a `--token SECRET[:name]` flag value. */
export function parseTokenFlag(value: string): TokenEntry {
  const { token, name } = parseTokenSpec(value);
  return { token, name };
}

/** Loads and validates the collector's configuration (file, `SLOTH_COLLECTOR_*` env, flags). */
export function loadCollectorConfig(sources: ConfigSources = {}): CollectorSettings {
  return loadConfig('collector', collectorConfigShape, sources);
}
