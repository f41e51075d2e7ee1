import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type Database from 'better-sqlite3';
// Subpaths, not the package index: the store runs in the writer thread, which should not load all of core.
import { SlothError } from '@sloth/core/errors';
import { silentLogger, type Logger } from '@sloth/core/logger';
import type { IngestBatch, LogRecordEntry, MetricPoint, SpanRecord } from '../records.js';
import { AgentTable } from './agents.js';
import { Compaction, type CompactionResult } from './compaction.js';
import { LogTable } from './logs.js';
import { MetricReader, type AggregateQuery, type AggregateResult } from './metric-reader.js';
import { MetricWriter } from './metric-writer.js';
import { Retention } from './retention.js';
import { SeriesIndex } from './series-index.js';
import { SpanTable } from './spans.js';
import { openDatabase } from './store-open.js';
import type { StoreReader } from './store-reader.js';
import {
  defaultStoreCacheMb,
  type AgentRecord,
  type AgentState,
  type LogQuery,
  type PruneResult,
  type SampleQuery,
  type SamplePoint,
  type SeriesFilter,
  type SeriesInfo,
  type SpanQuery,
} from './store-types.js';

export interface SqliteStoreOptions {
  /** The store lives in `<dataDir>/collector/sloth.db`. */
  readonly dataDir: string;
  /** Data older than this is deleted. @defaultValue 7 days (set by the caller) */
  readonly retentionMillis: number;
  readonly logger?: Logger;
  /** How often the background retention pass runs; 0 disables it. @defaultValue 60000 */
  readonly pruneIntervalMillis?: number;
  /** Points newer than this are left in their small chunks by the background compaction (they may still get neighbours). @defaultValue 60000 */
  readonly compactionLagMillis?: number;
  /** SQLite page cache of this connection. @defaultValue 16 */
  readonly cacheMb?: number;
  /**
   * Open the file read-only (the query side next to the writer thread): no
   * schema changes, no retention, and every write method fails.
   * @defaultValue false
   */
  readonly readonly?: boolean;
}

/**
 * The collector's embedded store: metrics, spans, logs and agents in one
 * SQLite file (WAL mode). It composes the parts that own the state: the
 * series index, the metric writer and reader, the span, log and agent
 * tables, and retention. Writes are batched: {@link write} stores any
 * number of ingest batches and the ingest checkpoint in one transaction.
 */
export class SqliteStore implements StoreReader {
  readonly path: string;
  readonly retentionMillis: number;
  readonly readonly: boolean;
  private readonly db: Database.Database;
  private readonly index: SeriesIndex;
  private readonly metrics: MetricReader;
  private readonly spanTable: SpanTable;
  private readonly logTable: LogTable;
  private readonly agents: AgentTable;
  private readonly writer:
    | { metrics: MetricWriter; retention: Retention; compaction: Compaction; transaction: (batches: readonly IngestBatch[], checkpoint: number) => void }
    | undefined;
  private readonly compactionLagMillis: number;
  private readonly getMeta: Database.Statement;
  private pruneTimer: NodeJS.Timeout | undefined;
  private closed = false;

  private constructor(path: string, options: SqliteStoreOptions) {
    this.path = path;
    this.retentionMillis = options.retentionMillis;
    this.readonly = options.readonly === true;
    this.compactionLagMillis = options.compactionLagMillis ?? 60_000;
    const logger = options.logger ?? silentLogger();
    this.db = openDatabase(path, { cacheMb: options.cacheMb ?? defaultStoreCacheMb, readonly: this.readonly, logger });
    try {
      this.index = new SeriesIndex(this.db);
      this.metrics = new MetricReader(this.db, this.index, this.readonly);
      this.spanTable = new SpanTable(this.db, !this.readonly);
      this.logTable = new LogTable(this.db, !this.readonly);
      this.agents = new AgentTable(this.db, !this.readonly);
      this.getMeta = this.db.prepare('SELECT value FROM meta WHERE key = ?').pluck();
      this.writer = this.readonly ? undefined : this.prepareWriter(logger);
    } catch (error) {
      this.db.close();
      throw error;
    }
  }

  private prepareWriter(logger: Logger): NonNullable<SqliteStore['writer']> {
    const metrics = new MetricWriter(this.db, this.index);
    const setMeta = this.db.prepare('INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)');
    const transaction = this.db.transaction((batches: readonly IngestBatch[], checkpoint: number) => {
      const nowMillis = Date.now();
      for (const batch of batches) {
        this.agents.recordSeen(batch.resources, nowMillis);
        this.spanTable.write(batch.spans);
        this.logTable.write(batch.logs);
      }
      metrics.write(batches, nowMillis);
      setMeta.run('checkpoint', String(checkpoint));
    });
    const isClosed = (): boolean => this.closed;
    return { metrics, transaction, retention: new Retention(this.db, this.index, logger, isClosed), compaction: new Compaction(this.db, logger, isClosed) };
  }

  /** Opens (creating when needed) `<dataDir>/collector/sloth.db` and starts the retention timer. */
  static open(options: SqliteStoreOptions): SqliteStore {
    if (!Number.isFinite(options.retentionMillis) || options.retentionMillis <= 0) {
      throw new SlothError('SLOTH_ERR_CONFIG', `retention must be a positive duration, got ${options.retentionMillis} ms`);
    }
    const dir = join(options.dataDir, 'collector');
    let store: SqliteStore;
    try {
      if (options.readonly !== true) mkdirSync(dir, { recursive: true });
      store = new SqliteStore(join(dir, 'sloth.db'), options);
    } catch (error) {
      throw new SlothError('SLOTH_ERR_STORAGE', `cannot open the store in ${dir}: ${(error as Error).message}`, { cause: error });
    }
    const intervalMillis = options.pruneIntervalMillis ?? 60_000;
    if (intervalMillis > 0 && store.writer !== undefined) {
      store.pruneTimer = setInterval(() => {
        void store.maintainInBackground();
      }, intervalMillis);
      store.pruneTimer.unref();
    }
    return store;
  }

  // ---------------------------------------------------------------------------
  // Writing

  /**
   * Stores every batch and records `checkpoint` (the ingest write-ahead-log
   * position) in the same transaction: after a crash either both or neither
   * are on disk, so replay from {@link lastCheckpoint} is exactly-once.
   */
  write(batches: readonly IngestBatch[], checkpoint: number): void {
    const writer = this.writable();
    try {
      writer.transaction(batches, checkpoint);
    } catch (error) {
      // The transaction rolled back: series ids handed out inside it no longer exist.
      this.index.reload();
      throw new SlothError('SLOTH_ERR_STORAGE', `store write failed: ${(error as Error).message}`, { cause: error });
    }
  }

  /** The checkpoint saved by the last successful {@link write}; 0 for a new store. */
  lastCheckpoint(): number {
    const value = this.getMeta.get('checkpoint') as string | undefined;
    return value === undefined ? 0 : Number(value);
  }

  /** Number of stored series, of one agent when given. */
  seriesCount(agentId?: string): number {
    return this.index.count(agentId);
  }

  hasSeries(seriesKey: string): boolean {
    return this.index.has(seriesKey);
  }

  /** Every stored series key with its agent (as loaded at open and written since). */
  seriesKeys(): Iterable<[seriesKey: string, agentId: string]> {
    return this.index.keys();
  }

  // ---------------------------------------------------------------------------
  // Agents (the registry owns their state; write() records first/last seen)

  listAgents(): AgentRecord[] {
    return this.agents.all();
  }

  /** Inserts or updates agents (first seen keeps the earliest, last seen the latest). */
  putAgents(agents: readonly AgentRecord[]): void {
    this.writable();
    this.agents.putAll(agents);
  }

  setAgentState(agentId: string, state: AgentState): void {
    this.writable();
    this.agents.setAgentState(agentId, state);
  }

  // ---------------------------------------------------------------------------
  // Reading

  latestPoints(): MetricPoint[] {
    return this.metrics.latestPoints();
  }

  getSeries(seriesKey: string): SeriesInfo | undefined {
    return this.metrics.getSeries(seriesKey);
  }

  listSeries(filter: SeriesFilter = {}): SeriesInfo[] {
    return this.metrics.listSeries(filter);
  }

  samples(query: SampleQuery): SamplePoint[] | undefined {
    return this.metrics.samples(query);
  }

  aggregate(query: AggregateQuery): AggregateResult {
    return this.metrics.aggregate(query);
  }

  /** Newest spans first. */
  spans(query: SpanQuery = {}): SpanRecord[] {
    return this.spanTable.query(query);
  }

  /** Newest log records first. */
  logs(query: LogQuery = {}): LogRecordEntry[] {
    return this.logTable.query(query);
  }

  // ---------------------------------------------------------------------------
  // Retention

  /** Deletes points, spans and logs older than `cutoffMillis`, and series left without points, in small transactions. */
  pruneOlderThan(cutoffMillis: number): PruneResult {
    return this.writable().retention.pruneOlderThan(cutoffMillis);
  }

  /** One retention pass that yields to the event loop between steps, so writes never wait long. */
  async pruneInBackground(cutoffMillis = Date.now() - this.retentionMillis): Promise<PruneResult | undefined> {
    if (this.writer === undefined || this.closed) return undefined;
    return this.writer.retention.pruneInBackground(cutoffMillis);
  }

  /**
   * Merges small chunks whose points are all older than `cutoffMillis` into
   * one chunk per series per hour (see {@link Compaction}); every chunk is
   * looked at. The background timer does this after each retention pass.
   */
  compactChunks(cutoffMillis = Date.now() - this.compactionLagMillis): CompactionResult {
    return this.writable().compaction.compact(cutoffMillis);
  }

  /** The timer's pass: retention, then compaction, each yielding between its steps. */
  private async maintainInBackground(): Promise<void> {
    await this.pruneInBackground();
    if (this.writer !== undefined && !this.closed) await this.writer.compaction.compactInBackground(Date.now() - this.compactionLagMillis);
  }

  /** Calls `listener` with the keys of series that retention removed (no points left), e.g. to drop them from `/metrics`. */
  onSeriesRemoved(listener: (seriesKeys: readonly string[]) => void): void {
    // A read-only store runs no retention: nothing to report.
    this.writer?.retention.onSeriesRemoved(listener);
  }

  private writable(): NonNullable<SqliteStore['writer']> {
    if (this.closed) throw new SlothError('SLOTH_ERR_STORAGE', `the store ${this.path} is closed`);
    if (this.writer === undefined) throw new SlothError('SLOTH_ERR_STORAGE', `the store ${this.path} is open read-only; writes go through the store writer`);
    return this.writer;
  }

  /** Stops the retention timer and closes the database. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.pruneTimer !== undefined) clearInterval(this.pruneTimer);
    this.db.close();
  }
}
