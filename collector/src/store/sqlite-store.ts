import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import type { Labels, MetricKind } from '@sloth/core';
// Subpaths, not the package index: the store runs in the writer thread, which should not load all of core.
import { SlothError } from '@sloth/core/errors';
import { silentLogger, type Logger } from '@sloth/core/logger';
import type { HistogramValue, IngestBatch, MetricPoint, MetricSeries, ResourceInfo, SpanRecord, LogRecordEntry } from '../records.js';
import { chunkWordCount, chunkWords, decodeChunk, encodeChunk, schemaStatements, schemaVersion, type ChunkPoints } from './schema.js';
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
  /** SQLite page cache of this connection. @defaultValue 32 */
  readonly cacheMb?: number;
}

/** Rows (chunks, histogram points, spans, logs) deleted per retention step; a step is one short transaction. */
const pruneRowsPerChunk = 5_000;
const pruneSeriesPerChunk = 200;
/** Series whose points one migration transaction moves into chunks. */
const migrateSeriesPerTransaction = 200;
/** Points per chunk when migrating a version 1 store. */
const migratePointsPerChunk = 1_000;

/** Kinds whose points stay one `points` row each (they carry count, sum and buckets). */
function isHistogramKind(kind: string): boolean {
  return kind === 'histogram' || kind === 'exponential_histogram' || kind === 'summary';
}

interface SeriesRow {
  id: number;
  key: string;
  name: string;
  agent_id: string;
  kind: string;
  unit: string;
  description: string;
  monotonic: number;
  labels: string;
}

interface PointRow {
  ts_ms: number;
  value: number | null;
  count: number | null;
  sum: number | null;
  buckets: string | null;
}

interface ChunkRow {
  data: Buffer;
}

interface KnownSeries {
  readonly key: string;
  readonly agentId: string;
  /** Points in `points` rows (histogram kinds) rather than chunks. */
  readonly histogram: boolean;
}

/** Where one write transaction gathers a series' number points before encoding its chunk. */
interface PendingChunk {
  readonly id: number;
  count: number;
  filled: number;
  words: Float64Array;
  lastMillis: number;
  /** A timestamp not above the previous one: the chunk needs sorting and de-duplication. */
  unordered: boolean;
}

interface AgentRow {
  id: string;
  principal: string;
  state: string;
  first_seen_ms: number;
  last_seen_ms: number;
  attributes: string;
}

/**
 * The collector's embedded store: metrics, spans, logs and agents in one
 * SQLite file (WAL mode). Writes are batched: {@link write} stores any number
 * of ingest batches and the ingest checkpoint in one transaction.
 */
export class SqliteStore {
  readonly path: string;
  readonly retentionMillis: number;
  private readonly db: Database.Database;
  private readonly logger: Logger;
  /** seriesKey → series id, loaded at open; the cardinality check reads it. */
  private readonly seriesIds = new Map<string, number>();
  private readonly seriesById = new Map<number, KnownSeries>();
  private readonly seriesPerAgent = new Map<string, number>();
  private readonly statements: ReturnType<SqliteStore['prepare']>;
  private readonly writeTransaction: (batches: readonly IngestBatch[], checkpoint: number) => void;
  private pruneTimer: NodeJS.Timeout | undefined;
  private pruneRunning = false;
  private removedInChunk: string[] = [];
  private readonly seriesRemovedListeners: Array<(seriesKeys: readonly string[]) => void> = [];
  private closed = false;

  private constructor(path: string, options: SqliteStoreOptions) {
    this.path = path;
    this.retentionMillis = options.retentionMillis;
    this.logger = options.logger ?? silentLogger();
    this.db = new Database(path);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = NORMAL');
    this.db.pragma('temp_store = MEMORY');
    this.db.pragma(`cache_size = -${Math.max(1, Math.round((options.cacheMb ?? defaultStoreCacheMb) * 1000))}`);
    try {
      for (const statement of schemaStatements) this.db.exec(statement);
      this.upgradeSchema();
      this.statements = this.prepare();
      this.loadSeriesIds();
    } catch (error) {
      this.db.close();
      throw error;
    }
    this.writeTransaction = this.db.transaction((batches: readonly IngestBatch[], checkpoint: number) => {
      const nowMillis = Date.now();
      for (const batch of batches) {
        this.writeResources(batch.resources, nowMillis);
        this.writeSpans(batch.spans);
        this.writeLogs(batch.logs);
      }
      this.writeMetrics(batches, nowMillis);
      this.statements.setMeta.run('checkpoint', String(checkpoint));
    });
  }

  /** Records the schema version of a new store; moves a version 1 store's gauge and sum points into chunks. */
  private upgradeSchema(): void {
    const getVersion = this.db.prepare(`SELECT value FROM meta WHERE key = 'schema_version'`).pluck();
    const stored = getVersion.get() as string | undefined;
    const setVersion = this.db.prepare(`INSERT OR REPLACE INTO meta (key, value) VALUES ('schema_version', ?)`);
    if (stored === undefined) {
      setVersion.run(String(schemaVersion));
      return;
    }
    const version = Number(stored);
    if (version === schemaVersion) return;
    if (!(version >= 1 && version < schemaVersion)) {
      throw new Error(`its schema version is ${stored}; this collector reads versions 1 to ${schemaVersion} (was it written by a newer collector?)`);
    }
    this.migrateToChunks();
    setVersion.run(String(schemaVersion));
  }

  /**
   * Schema 1 → 2: moves each gauge/sum series' `points` rows into chunks of
   * up to {@link migratePointsPerChunk} points, a few series per
   * transaction. A series' rows move in one transaction, so a migration cut
   * short resumes where it stopped at the next open (the version is set last).
   */
  private migrateToChunks(): void {
    const db = this.db;
    const startedMillis = Date.now();
    const page = db.prepare(`SELECT id FROM series WHERE kind IN ('gauge', 'sum') AND id > ? ORDER BY id LIMIT ?`).pluck();
    const pointsOf = db.prepare('SELECT ts_ms, value FROM points WHERE series_id = ? ORDER BY ts_ms').raw();
    const insertChunk = db.prepare('INSERT INTO chunks (series_id, start_ms, end_ms, count, data) VALUES (?, ?, ?, ?, ?)');
    const deletePoints = db.prepare('DELETE FROM points WHERE series_id = ?');
    const moved = { series: 0, points: 0, chunks: 0 };
    const moveSeries = db.transaction((ids: readonly number[]) => {
      for (const id of ids) {
        const rows = pointsOf.all(id) as Array<[number, number | null]>;
        if (rows.length === 0) continue;
        for (let first = 0; first < rows.length; first += migratePointsPerChunk) {
          const count = Math.min(migratePointsPerChunk, rows.length - first);
          const words = chunkWords(count);
          for (let i = 0; i < count; i += 1) {
            const [ts, value] = rows[first + i] as [number, number | null];
            words[1 + i] = ts;
            words[1 + count + i] = value ?? Number.NaN;
          }
          insertChunk.run(id, words[1], words[count], count, encodeChunk(words, count));
          moved.chunks += 1;
        }
        deletePoints.run(id);
        moved.series += 1;
        moved.points += rows.length;
      }
    });
    this.logger.info({ path: this.path }, 'store schema 1 -> 2: moving gauge and sum points into chunks');
    let cursor = 0;
    for (;;) {
      const ids = page.all(cursor, migrateSeriesPerTransaction) as number[];
      if (ids.length === 0) break;
      moveSeries(ids);
      cursor = ids[ids.length - 1] as number;
    }
    this.logger.info({ path: this.path, ...moved, millis: Date.now() - startedMillis }, 'store schema 2: migration done');
  }

  /** Opens (creating when needed) `<dataDir>/collector/sloth.db` and starts the retention timer. */
  static open(options: SqliteStoreOptions): SqliteStore {
    if (!Number.isFinite(options.retentionMillis) || options.retentionMillis <= 0) {
      throw new SlothError('SLOTH_ERR_CONFIG', `retention must be a positive duration, got ${options.retentionMillis} ms`);
    }
    const dir = join(options.dataDir, 'collector');
    let store: SqliteStore;
    try {
      mkdirSync(dir, { recursive: true });
      store = new SqliteStore(join(dir, 'sloth.db'), options);
    } catch (error) {
      throw new SlothError('SLOTH_ERR_STORAGE', `cannot open the store in ${dir}: ${(error as Error).message}`, { cause: error });
    }
    const intervalMillis = options.pruneIntervalMillis ?? 60_000;
    if (intervalMillis > 0) {
      store.pruneTimer = setInterval(() => {
        void store.pruneInBackground();
      }, intervalMillis);
      store.pruneTimer.unref();
    }
    return store;
  }

  private prepare() {
    const db = this.db;
    return {
      setMeta: db.prepare('INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)'),
      getMeta: db.prepare('SELECT value FROM meta WHERE key = ?').pluck(),
      insertSeries: db.prepare(
        'INSERT INTO series (key, name, agent_id, kind, unit, description, monotonic, labels, created_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)',
      ),
      insertPoint: db.prepare('INSERT OR REPLACE INTO points (series_id, ts_ms, value, count, sum, buckets) VALUES (?, ?, ?, ?, ?, ?)'),
      insertChunk: db.prepare('INSERT INTO chunks (series_id, start_ms, end_ms, count, data) VALUES (?, ?, ?, ?, ?)'),
      insertSpan: db.prepare(
        `INSERT INTO spans (trace_id, span_id, parent_span_id, name, kind, agent_id, service_name, start_ms, end_ms, status_code, status_message, attributes)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      ),
      insertLog: db.prepare(
        `INSERT INTO logs (ts_ms, agent_id, service_name, severity_number, severity_text, body, trace_id, span_id, attributes)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      ),
      upsertAgentSeen: db.prepare(
        `INSERT INTO agents (id, principal, state, first_seen_ms, last_seen_ms, attributes) VALUES (?, ?, 'up', ?, ?, ?)
         ON CONFLICT (id) DO UPDATE SET principal = excluded.principal, attributes = excluded.attributes,
           last_seen_ms = max(last_seen_ms, excluded.last_seen_ms)`,
      ),
      putAgent: db.prepare(
        `INSERT INTO agents (id, principal, state, first_seen_ms, last_seen_ms, attributes) VALUES (?, ?, ?, ?, ?, ?)
         ON CONFLICT (id) DO UPDATE SET principal = excluded.principal, state = excluded.state,
           first_seen_ms = min(first_seen_ms, excluded.first_seen_ms), last_seen_ms = max(last_seen_ms, excluded.last_seen_ms),
           attributes = excluded.attributes`,
      ),
      listAgents: db.prepare('SELECT * FROM agents ORDER BY id'),
      seriesByKey: db.prepare('SELECT * FROM series WHERE key = ?'),
      seriesIdByKey: db.prepare('SELECT id, kind FROM series WHERE key = ?'),
      latestPoints: db.prepare(
        `SELECT s.*, p.ts_ms, p.value, p.count, p.sum, p.buckets FROM series s
         JOIN points p ON p.series_id = s.id AND p.ts_ms = (SELECT max(ts_ms) FROM points WHERE series_id = s.id)`,
      ),
      // The chunk holding a series' newest point; of two chunks ending at the same time the later write wins.
      latestChunks: db.prepare(
        `SELECT s.*, c.data FROM series s
         JOIN chunks c ON c.id = (SELECT id FROM chunks WHERE series_id = s.id ORDER BY end_ms DESC, id DESC LIMIT 1)`,
      ),
      chunksInRange: db.prepare('SELECT data FROM chunks WHERE series_id = ? AND end_ms >= ? AND start_ms <= ? ORDER BY id'),
      rawSamples: db.prepare(
        'SELECT ts_ms, value, count, sum, buckets FROM points WHERE series_id = ? AND ts_ms >= ? AND ts_ms <= ? ORDER BY ts_ms LIMIT ?',
      ),
      // With exactly one max() aggregate SQLite takes the bare columns from the row holding the maximum: the last point.
      lastSamples: db.prepare(
        `SELECT CAST((ts_ms - @from) / @step AS INTEGER) AS bucket, max(ts_ms) AS ts_ms, value, count, sum FROM points
         WHERE series_id = @id AND ts_ms >= @from AND ts_ms <= @to GROUP BY bucket ORDER BY bucket LIMIT @limit`,
      ),
      avgSamples: this.stepStatement('avg'),
      minSamples: this.stepStatement('min'),
      maxSamples: this.stepStatement('max'),
      pruneSeriesPage: db.prepare('SELECT id, kind FROM series WHERE id > ? ORDER BY id LIMIT ?'),
      pruneChunks: db.prepare(
        `DELETE FROM chunks WHERE id IN (SELECT id FROM chunks WHERE series_id = @id AND end_ms < @cutoff LIMIT @budget) RETURNING count`,
      ).pluck(),
      prunePoints: db.prepare(
        `DELETE FROM points WHERE series_id = @id AND ts_ms < min(@cutoff,
           coalesce((SELECT ts_ms FROM points WHERE series_id = @id ORDER BY ts_ms LIMIT 1 OFFSET @budget), @cutoff))`,
      ),
      seriesHasPoints: db.prepare(
        'SELECT EXISTS (SELECT 1 FROM chunks WHERE series_id = @id) OR EXISTS (SELECT 1 FROM points WHERE series_id = @id)',
      ).pluck(),
      deleteSeries: db.prepare('DELETE FROM series WHERE id = ? AND created_ms < ?'),
      pruneSpans: db.prepare('DELETE FROM spans WHERE id IN (SELECT id FROM spans WHERE start_ms < ? LIMIT ?)'),
      pruneLogs: db.prepare('DELETE FROM logs WHERE id IN (SELECT id FROM logs WHERE ts_ms < ? LIMIT ?)'),
    };
  }

  private stepStatement(fn: 'avg' | 'min' | 'max'): Database.Statement {
    // count and sum of histograms are cumulative, so max() is the last value of the bucket.
    return this.db.prepare(
      `SELECT CAST((ts_ms - @from) / @step AS INTEGER) AS bucket, ${fn}(value) AS value, max(count) AS count, max(sum) AS sum FROM points
       WHERE series_id = @id AND ts_ms >= @from AND ts_ms <= @to GROUP BY bucket ORDER BY bucket LIMIT @limit`,
    );
  }

  private loadSeriesIds(): void {
    this.seriesIds.clear();
    this.seriesById.clear();
    this.seriesPerAgent.clear();
    for (const row of this.db.prepare('SELECT id, key, agent_id, kind FROM series').all() as Array<Pick<SeriesRow, 'id' | 'key' | 'agent_id' | 'kind'>>) {
      this.remember(row.key, row.id, row.agent_id, isHistogramKind(row.kind));
    }
  }

  private remember(key: string, id: number, agentId: string, histogram: boolean): void {
    this.seriesIds.set(key, id);
    this.seriesById.set(id, { key, agentId, histogram });
    this.seriesPerAgent.set(agentId, (this.seriesPerAgent.get(agentId) ?? 0) + 1);
  }

  private forget(id: number): void {
    const known = this.seriesById.get(id);
    if (known === undefined) return;
    const { key, agentId } = known;
    this.seriesIds.delete(key);
    this.removedInChunk.push(key);
    this.seriesById.delete(id);
    {
      const left = (this.seriesPerAgent.get(agentId) ?? 1) - 1;
      if (left <= 0) this.seriesPerAgent.delete(agentId);
      else this.seriesPerAgent.set(agentId, left);
    }
  }

  // ---------------------------------------------------------------------------
  // Writing

  /**
   * Stores every batch and records `checkpoint` (the ingest write-ahead-log
   * position) in the same transaction: after a crash either both or neither
   * are on disk, so replay from {@link lastCheckpoint} is exactly-once.
   */
  write(batches: readonly IngestBatch[], checkpoint: number): void {
    this.assertOpen();
    try {
      this.writeTransaction(batches, checkpoint);
    } catch (error) {
      // The transaction rolled back: series ids handed out inside it no longer exist.
      this.loadSeriesIds();
      throw new SlothError('SLOTH_ERR_STORAGE', `store write failed: ${(error as Error).message}`, { cause: error });
    }
  }

  /** The checkpoint saved by the last successful {@link write}; 0 for a new store. */
  lastCheckpoint(): number {
    const value = this.statements.getMeta.get('checkpoint') as string | undefined;
    return value === undefined ? 0 : Number(value);
  }

  /** Number of stored series, of one agent when given. */
  seriesCount(agentId?: string): number {
    return agentId === undefined ? this.seriesIds.size : (this.seriesPerAgent.get(agentId) ?? 0);
  }

  hasSeries(seriesKey: string): boolean {
    return this.seriesIds.has(seriesKey);
  }

  /** Every stored series key with its agent (as loaded at open and written since). */
  *seriesKeys(): Iterable<[seriesKey: string, agentId: string]> {
    for (const { key, agentId } of this.seriesById.values()) yield [key, agentId];
  }

  private writeResources(resources: readonly ResourceInfo[], nowMillis: number): void {
    for (const resource of resources) {
      this.statements.upsertAgentSeen.run(resource.agentId, resource.principal, nowMillis, nowMillis, JSON.stringify(resource.attributes));
    }
  }

  /** The id of a series, created from `series` (its first point's) when the store does not know it. */
  private seriesIdFor(series: MetricSeries, nowMillis: number): number {
    const known = this.seriesIds.get(series.key);
    if (known !== undefined) return known;
    const result = this.statements.insertSeries.run(
      series.key,
      series.name,
      series.agentId,
      series.kind,
      series.unit,
      series.description,
      series.monotonic ? 1 : 0,
      JSON.stringify(series.labels),
      nowMillis,
    );
    const id = Number(result.lastInsertRowid);
    this.remember(series.key, id, series.agentId, isHistogramKind(series.kind));
    return id;
  }

  /**
   * Gauge and sum points of all batches: one chunk per series. Two passes
   * over the columns: the first finds each point's series and counts the
   * points per series (storing histogram-kind points as rows right away), the
   * second copies timestamps and values into each chunk's buffer.
   */
  private writeMetrics(batches: readonly IngestBatch[], nowMillis: number): void {
    /** Series key → index into `chunks`, or -(series id) for a histogram-kind series. */
    const slots = new Map<string, number>();
    const chunks: PendingChunk[] = [];
    const pointSlots: Int32Array[] = [];
    for (const batch of batches) {
      const { length, series, timestamps, values, histograms } = batch.metrics;
      const slotOf = new Int32Array(length);
      pointSlots.push(slotOf);
      for (let i = 0; i < length; i += 1) {
        const s = series[i] as MetricSeries;
        let slot = slots.get(s.key);
        if (slot === undefined) {
          const id = this.seriesIdFor(s, nowMillis);
          if (this.seriesById.get(id)?.histogram === true) {
            slot = -id;
          } else {
            slot = chunks.length;
            chunks.push({ id, count: 0, filled: 0, words: emptyWords, lastMillis: Number.NEGATIVE_INFINITY, unordered: false });
          }
          slots.set(s.key, slot);
        }
        slotOf[i] = slot;
        if (slot >= 0) {
          (chunks[slot] as PendingChunk).count += 1;
        } else {
          this.writeHistogramPoint(-slot, Math.floor(timestamps[i] as number), values[i] as number, histograms.get(i));
        }
      }
    }
    // One allocation for every chunk of the transaction: tens of thousands of small
    // typed arrays per write would each be a malloc and a young-generation object.
    let totalWords = 0;
    for (const chunk of chunks) totalWords += chunkWordCount(chunk.count);
    const arena = new Float64Array(totalWords);
    let offset = 0;
    for (const chunk of chunks) {
      const length = chunkWordCount(chunk.count);
      chunk.words = arena.subarray(offset, offset + length);
      offset += length;
    }
    batches.forEach((batch, b) => {
      const { length, timestamps, values } = batch.metrics;
      const slotOf = pointSlots[b] as Int32Array;
      for (let i = 0; i < length; i += 1) {
        const slot = slotOf[i] as number;
        if (slot < 0) continue;
        const chunk = chunks[slot] as PendingChunk;
        const ts = Math.floor(timestamps[i] as number);
        if (ts <= chunk.lastMillis) chunk.unordered = true;
        chunk.lastMillis = ts;
        chunk.words[1 + chunk.filled] = ts;
        chunk.words[1 + chunk.count + chunk.filled] = values[i] as number;
        chunk.filled += 1;
      }
    });
    const insertChunk = this.statements.insertChunk;
    for (const chunk of chunks) {
      const { words, count } = chunk.unordered ? sortedUnique(chunk.words, chunk.count) : chunk;
      insertChunk.run(chunk.id, words[1], words[count], count, encodeChunk(words, count));
    }
  }

  private writeHistogramPoint(id: number, ts: number, raw: number, histogram: HistogramValue | undefined): void {
    const value = Number.isNaN(raw) ? null : raw;
    if (histogram === undefined) {
      this.statements.insertPoint.run(id, ts, value, null, null, null);
      return;
    }
    const count = histogram.count;
    const sum = histogram.sum ?? null;
    const mean = value ?? (sum !== null && count > 0 ? sum / count : null);
    const buckets = histogram.bucketCounts === undefined ? null : JSON.stringify([histogram.bounds ?? [], histogram.bucketCounts]);
    this.statements.insertPoint.run(id, ts, mean, count, sum, buckets);
  }

  private writeSpans(spans: readonly SpanRecord[]): void {
    for (const s of spans) {
      this.statements.insertSpan.run(
        s.traceId,
        s.spanId,
        s.parentSpanId,
        s.name,
        s.kind,
        s.agentId,
        s.serviceName,
        Math.floor(s.startMillis),
        Math.floor(s.endMillis),
        s.statusCode,
        s.statusMessage,
        JSON.stringify(s.attributes),
      );
    }
  }

  private writeLogs(logs: readonly LogRecordEntry[]): void {
    for (const l of logs) {
      this.statements.insertLog.run(
        Math.floor(l.timestampMillis),
        l.agentId,
        l.serviceName,
        l.severityNumber,
        l.severityText,
        l.body,
        l.traceId,
        l.spanId,
        JSON.stringify(l.attributes),
      );
    }
  }

  // ---------------------------------------------------------------------------
  // Agents (the registry owns their state; write() records first/last seen)

  listAgents(): AgentRecord[] {
    return (this.statements.listAgents.all() as AgentRow[]).map((row) => ({
      id: row.id,
      principal: row.principal,
      state: row.state === 'down' ? 'down' : 'up',
      firstSeenMillis: row.first_seen_ms,
      lastSeenMillis: row.last_seen_ms,
      attributes: JSON.parse(row.attributes) as Labels,
    }));
  }

  /** Inserts or updates agents (first seen keeps the earliest, last seen the latest). */
  putAgents(agents: readonly AgentRecord[]): void {
    this.assertOpen();
    const run = this.db.transaction((rows: readonly AgentRecord[]) => {
      for (const a of rows) {
        this.statements.putAgent.run(a.id, a.principal, a.state, a.firstSeenMillis, a.lastSeenMillis, JSON.stringify(a.attributes));
      }
    });
    run(agents);
  }

  setAgentState(agentId: string, state: AgentState): void {
    this.assertOpen();
    this.db.prepare('UPDATE agents SET state = ? WHERE id = ?').run(state, agentId);
  }

  // ---------------------------------------------------------------------------
  // Reading

  /** The newest point of every series, to seed the latest-values cache at start. */
  latestPoints(): MetricPoint[] {
    const fromChunks = (this.statements.latestChunks.all() as Array<SeriesRow & ChunkRow>).map((row): MetricPoint => {
      const info = toSeriesInfo(row);
      const { count, timestamps, values } = decodeChunk(row.data);
      // Chunks are sorted: the last point is the newest.
      return { ...pointOfSeries(info, timestamps[count - 1] as number), value: values[count - 1] };
    });
    const rows = this.statements.latestPoints.all() as Array<SeriesRow & PointRow>;
    return fromChunks.concat(rows.map((row) => {
      const info = toSeriesInfo(row);
      const base = pointOfSeries(info, row.ts_ms);
      if (row.buckets !== null || row.count !== null) {
        const [bounds, bucketCounts] = row.buckets === null ? [undefined, undefined] : (JSON.parse(row.buckets) as [number[], number[]]);
        return { ...base, count: row.count ?? 0, sum: row.sum ?? 0, ...(bounds === undefined ? {} : { bounds, bucketCounts }) };
      }
      return { ...base, value: row.value ?? Number.NaN };
    }));
  }

  getSeries(seriesKey: string): SeriesInfo | undefined {
    const row = this.statements.seriesByKey.get(seriesKey) as SeriesRow | undefined;
    return row === undefined ? undefined : toSeriesInfo(row);
  }

  /** Series matching every given filter, ordered by key. */
  listSeries(filter: SeriesFilter = {}): SeriesInfo[] {
    const where: string[] = [];
    const params: unknown[] = [];
    if (filter.name !== undefined) {
      where.push('name = ?');
      params.push(filter.name);
    }
    if (filter.agentId !== undefined) {
      where.push('agent_id = ?');
      params.push(filter.agentId);
    }
    const labelFilters = Object.entries(filter.labels ?? {});
    for (const [k, v] of labelFilters) {
      where.push('json_extract(labels, ?) IS ?');
      params.push(`$."${k.replace(/"/g, '""')}"`, v);
    }
    const limit = filter.limit ?? 1000;
    const sql = `SELECT * FROM series ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY key LIMIT ?`;
    const rows = this.db.prepare(sql).all(...params, limit) as SeriesRow[];
    return rows.map(toSeriesInfo);
  }

  /** Points of one series in `[from, to]`, raw or aggregated per step. Undefined when the series is unknown. */
  samples(query: SampleQuery): SamplePoint[] | undefined {
    // A read-only connection (next to a worker-thread writer) does not see new series in its map: ask the database.
    let id = this.seriesIds.get(query.seriesKey);
    let histogram = id === undefined ? false : this.seriesById.get(id)?.histogram === true;
    if (id === undefined) {
      const row = this.statements.seriesIdByKey.get(query.seriesKey) as Pick<SeriesRow, 'id' | 'kind'> | undefined;
      if (row === undefined) return undefined;
      id = row.id;
      histogram = isHistogramKind(row.kind);
    }
    const limit = query.limit ?? 11_000;
    const from = Math.floor(query.fromMillis);
    const to = Math.floor(query.toMillis);
    if (!histogram) return this.chunkSamples(id, from, to, query, limit);
    if (query.stepMillis === undefined) {
      const rows = this.statements.rawSamples.all(id, from, to, limit) as PointRow[];
      return rows.map(toSamplePoint);
    }
    const step = Math.max(1, Math.floor(query.stepMillis));
    const agg = query.agg ?? 'avg';
    const statement =
      agg === 'last'
        ? this.statements.lastSamples
        : agg === 'min'
          ? this.statements.minSamples
          : agg === 'max'
            ? this.statements.maxSamples
            : this.statements.avgSamples;
    const rows = statement.all({ from, step, id, to, limit }) as Array<{ bucket: number; value: number | null; count: number | null; sum: number | null }>;
    return rows.map((row) => ({
      t: from + row.bucket * step,
      v: row.value,
      ...(row.count === null ? {} : { count: row.count }),
      ...(row.sum === null ? {} : { sum: row.sum }),
    }));
  }

  /** {@link samples} of a gauge or sum series: its chunks merged (a later write wins), then raw or aggregated per step in JS. */
  private chunkSamples(id: number, from: number, to: number, query: SampleQuery, limit: number): SamplePoint[] {
    const rows = this.statements.chunksInRange.all(id, from, to) as ChunkRow[];
    const { count, timestamps, values } = mergeChunks(
      rows.map((row) => decodeChunk(row.data)),
      from,
      to,
    );
    const out: SamplePoint[] = [];
    if (query.stepMillis === undefined) {
      for (let i = 0; i < count && out.length < limit; i += 1) out.push({ t: timestamps[i] as number, v: nullIfNaN(values[i] as number) });
      return out;
    }
    const step = Math.max(1, Math.floor(query.stepMillis));
    const agg = query.agg ?? 'avg';
    // As SQL aggregates do: NULL (NaN) values are skipped, a bucket of only NULLs yields null, sums are compensated (Kahan-Babuska-Neumaier).
    let i = 0;
    while (i < count && out.length < limit) {
      const bucket = Math.floor(((timestamps[i] as number) - from) / step);
      const bucketEnd = from + (bucket + 1) * step;
      let seen = 0;
      let sum = 0;
      let compensation = 0;
      let min = Number.POSITIVE_INFINITY;
      let max = Number.NEGATIVE_INFINITY;
      let last = Number.NaN;
      for (; i < count && (timestamps[i] as number) < bucketEnd; i += 1) {
        const v = values[i] as number;
        last = v;
        if (Number.isNaN(v)) continue;
        seen += 1;
        if (v < min) min = v;
        if (v > max) max = v;
        const t = sum + v;
        compensation += Math.abs(sum) >= Math.abs(v) ? sum - t + v : v - t + sum;
        sum = t;
      }
      const v = agg === 'last' ? nullIfNaN(last) : seen === 0 ? null : agg === 'min' ? min : agg === 'max' ? max : (sum + compensation) / seen;
      out.push({ t: from + bucket * step, v });
    }
    return out;
  }

  /** Newest spans first. */
  spans(query: SpanQuery = {}): SpanRecord[] {
    const where: string[] = [];
    const params: unknown[] = [];
    if (query.agentId !== undefined) {
      where.push('agent_id = ?');
      params.push(query.agentId);
    }
    if (query.name !== undefined) {
      where.push('name = ?');
      params.push(query.name);
    }
    if (query.traceId !== undefined) {
      where.push('trace_id = ?');
      params.push(query.traceId.toLowerCase());
    }
    if (query.sinceMillis !== undefined) {
      where.push('start_ms >= ?');
      params.push(Math.floor(query.sinceMillis));
    }
    const sql = `SELECT * FROM spans ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY start_ms DESC, id DESC LIMIT ?`;
    const rows = this.db.prepare(sql).all(...params, query.limit ?? 100) as Array<Record<string, unknown>>;
    return rows.map((r) => ({
      traceId: r.trace_id as string,
      spanId: r.span_id as string,
      parentSpanId: r.parent_span_id as string,
      name: r.name as string,
      kind: r.kind as number,
      agentId: r.agent_id as string,
      serviceName: r.service_name as string,
      startMillis: r.start_ms as number,
      endMillis: r.end_ms as number,
      statusCode: r.status_code as number,
      statusMessage: r.status_message as string,
      attributes: JSON.parse(r.attributes as string) as Record<string, unknown>,
    }));
  }

  /** Newest log records first. */
  logs(query: LogQuery = {}): LogRecordEntry[] {
    const where: string[] = [];
    const params: unknown[] = [];
    if (query.agentId !== undefined) {
      where.push('agent_id = ?');
      params.push(query.agentId);
    }
    if (query.severityMin !== undefined) {
      where.push('severity_number >= ?');
      params.push(query.severityMin);
    }
    if (query.contains !== undefined) {
      where.push(`instr(body, ?) > 0`);
      params.push(query.contains);
    }
    if (query.sinceMillis !== undefined) {
      where.push('ts_ms >= ?');
      params.push(Math.floor(query.sinceMillis));
    }
    const sql = `SELECT * FROM logs ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY ts_ms DESC, id DESC LIMIT ?`;
    const rows = this.db.prepare(sql).all(...params, query.limit ?? 100) as Array<Record<string, unknown>>;
    return rows.map((r) => ({
      timestampMillis: r.ts_ms as number,
      agentId: r.agent_id as string,
      serviceName: r.service_name as string,
      severityNumber: r.severity_number as number,
      severityText: r.severity_text as string,
      body: r.body as string,
      traceId: r.trace_id as string,
      spanId: r.span_id as string,
      attributes: JSON.parse(r.attributes as string) as Record<string, unknown>,
    }));
  }

  // ---------------------------------------------------------------------------
  // Retention

  /**
   * Deletes points, spans and logs older than `cutoffMillis`, and series left
   * without points, in small transactions. Gauge and sum points go a chunk at
   * a time: a chunk is deleted once its newest point is older than the
   * cutoff, so a chunk spanning the cutoff keeps its older points until then. Synchronous; the background timer
   * uses {@link pruneInBackground}, which yields between chunks.
   */
  pruneOlderThan(cutoffMillis: number): PruneResult {
    this.assertOpen();
    const total = { points: 0, series: 0, spans: 0, logs: 0 };
    const cursor = { seriesId: 0 };
    for (;;) {
      const chunk = this.pruneChunk(cutoffMillis, cursor);
      total.points += chunk.points;
      total.series += chunk.series;
      total.spans += chunk.spans;
      total.logs += chunk.logs;
      if (chunk.done) return total;
    }
  }

  /** One retention pass that yields to the event loop between chunks, so writes never wait long. */
  async pruneInBackground(cutoffMillis = Date.now() - this.retentionMillis): Promise<PruneResult | undefined> {
    if (this.pruneRunning || this.closed) return undefined;
    this.pruneRunning = true;
    const total = { points: 0, series: 0, spans: 0, logs: 0 };
    try {
      const cursor = { seriesId: 0 };
      for (;;) {
        if (this.closed) return total;
        const chunk = this.pruneChunk(cutoffMillis, cursor);
        total.points += chunk.points;
        total.series += chunk.series;
        total.spans += chunk.spans;
        total.logs += chunk.logs;
        if (chunk.done) break;
        await new Promise<void>((resolve) => setImmediate(resolve));
      }
      if (total.points + total.spans + total.logs + total.series > 0) this.logger.info({ pruned: total, cutoffMillis }, 'retention pass done');
      return total;
    } catch (error) {
      this.logger.error({ err: error }, 'retention pass failed');
      return total;
    } finally {
      this.pruneRunning = false;
    }
  }

  private pruneChunk(cutoffMillis: number, cursor: { seriesId: number }): PruneResult & { done: boolean } {
    const cutoff = Math.floor(cutoffMillis);
    const run = this.db.transaction(() => {
      const result = { points: 0, series: 0, spans: 0, logs: 0, done: false };
      result.spans = this.statements.pruneSpans.run(cutoff, pruneRowsPerChunk).changes;
      result.logs = this.statements.pruneLogs.run(cutoff, pruneRowsPerChunk).changes;
      let budget = pruneRowsPerChunk;
      const page = this.statements.pruneSeriesPage.all(cursor.seriesId, pruneSeriesPerChunk) as Array<Pick<SeriesRow, 'id' | 'kind'>>;
      for (const { id, kind } of page) {
        let deleted: number;
        if (isHistogramKind(kind)) {
          deleted = this.statements.prunePoints.run({ id, cutoff, budget }).changes;
          result.points += deleted;
        } else {
          // Whole chunks: a chunk goes once its newest point is older than the cutoff.
          const counts = this.statements.pruneChunks.all({ id, cutoff, budget }) as number[];
          deleted = counts.length;
          for (const count of counts) result.points += count;
        }
        budget -= deleted;
        if (budget <= 0) break; // this series may have more: revisit it next chunk
        if (this.statements.seriesHasPoints.get({ id }) === 0 && this.statements.deleteSeries.run(id, cutoff).changes > 0) {
          this.forget(id);
          result.series += 1;
        }
        cursor.seriesId = id;
      }
      result.done = budget > 0 && page.length < pruneSeriesPerChunk && result.spans < pruneRowsPerChunk && result.logs < pruneRowsPerChunk;
      return result;
    });
    this.removedInChunk = [];
    let result: PruneResult & { done: boolean };
    try {
      result = run();
    } catch (error) {
      // Rolled back: the series forgotten inside the transaction still exist.
      this.removedInChunk = [];
      this.loadSeriesIds();
      throw error;
    }
    if (this.removedInChunk.length > 0) {
      const removed = this.removedInChunk;
      this.removedInChunk = [];
      for (const listener of this.seriesRemovedListeners) {
        try {
          listener(removed);
        } catch (error) {
          this.logger.error({ err: error }, 'series-removed listener failed');
        }
      }
    }
    return result;
  }

  /** Calls `listener` with the keys of series that retention removed (no points left), e.g. to drop them from `/metrics`. */
  onSeriesRemoved(listener: (seriesKeys: readonly string[]) => void): void {
    this.seriesRemovedListeners.push(listener);
  }

  private assertOpen(): void {
    if (this.closed) throw new SlothError('SLOTH_ERR_STORAGE', `the store ${this.path} is closed`);
  }

  /** Stops the retention timer and closes the database. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.pruneTimer !== undefined) clearInterval(this.pruneTimer);
    this.db.close();
  }
}

function toSeriesInfo(row: SeriesRow): SeriesInfo {
  return {
    key: row.key,
    name: row.name,
    agentId: row.agent_id,
    kind: row.kind as MetricKind,
    unit: row.unit,
    description: row.description,
    monotonic: row.monotonic === 1,
    labels: JSON.parse(row.labels) as Labels,
  };
}

function toSamplePoint(row: PointRow): SamplePoint {
  if (row.count === null && row.buckets === null) return { t: row.ts_ms, v: row.value };
  const [bounds, bucketCounts] = row.buckets === null ? [undefined, undefined] : (JSON.parse(row.buckets) as [number[], number[]]);
  return {
    t: row.ts_ms,
    v: row.value,
    ...(row.count === null ? {} : { count: row.count }),
    ...(row.sum === null ? {} : { sum: row.sum }),
    ...(bounds === undefined ? {} : { bounds, bucketCounts }),
  };
}

const emptyWords = new Float64Array(0);

function nullIfNaN(value: number): number | null {
  return Number.isNaN(value) ? null : value;
}

/** A point of `info` at `timestampMillis`, without its value. */
function pointOfSeries(info: SeriesInfo, timestampMillis: number): MetricPoint {
  const { key, name, labels, agentId, kind, unit, description, monotonic } = info;
  return { seriesKey: key, name, labels, agentId, kind, unit, description, monotonic, timestampMillis };
}

/**
 * The chunk `words` of points that arrived out of order or twice: sorted by
 * time, one point per timestamp, the one written last (the sort is stable).
 */
function sortedUnique(words: Float64Array, count: number): { words: Float64Array; count: number } {
  const order = Array.from({ length: count }, (_, i) => i);
  order.sort((a, b) => (words[1 + a] as number) - (words[1 + b] as number));
  let kept = 0;
  for (let k = 0; k < count; k += 1) {
    const i = order[k] as number;
    const next = order[k + 1];
    if (next !== undefined && words[1 + next] === words[1 + i]) continue;
    order[kept++] = i;
  }
  const out = chunkWords(kept);
  for (let k = 0; k < kept; k += 1) {
    const i = order[k] as number;
    out[1 + k] = words[1 + i] as number;
    out[1 + kept + k] = words[1 + count + i] as number;
  }
  return { words: out, count: kept };
}

/**
 * The points of `chunks` (in write order) within `[from, to]`, sorted by
 * time, one per timestamp: where chunks overlap, the later chunk's point wins.
 */
function mergeChunks(chunks: readonly ChunkPoints[], from: number, to: number): ChunkPoints {
  let total = 0;
  let ordered = true;
  let previousEnd = Number.NEGATIVE_INFINITY;
  for (const chunk of chunks) {
    total += chunk.count;
    if (chunk.count === 0) continue;
    if ((chunk.timestamps[0] as number) <= previousEnd) ordered = false;
    previousEnd = Math.max(previousEnd, chunk.timestamps[chunk.count - 1] as number);
  }
  const timestamps = new Float64Array(total);
  const values = new Float64Array(total);
  let n = 0;
  for (const chunk of chunks) {
    for (let i = 0; i < chunk.count; i += 1) {
      const t = chunk.timestamps[i] as number;
      if (t < from || t > to) continue;
      timestamps[n] = t;
      values[n] = chunk.values[i] as number;
      n += 1;
    }
  }
  if (ordered) return { count: n, timestamps, values };
  // Chunks written in order, points in a chunk sorted: a stable sort by time leaves the latest write last among equals.
  const words = chunkWords(n);
  words.set(timestamps.subarray(0, n), 1);
  words.set(values.subarray(0, n), 1 + n);
  const merged = sortedUnique(words, n);
  return { count: merged.count, timestamps: merged.words.subarray(1, 1 + merged.count), values: merged.words.subarray(1 + merged.count, 1 + 2 * merged.count) };
}
