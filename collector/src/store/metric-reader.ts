import type Database from 'better-sqlite3';
import { SlothError } from '@sloth/core/errors';
import type { MetricPoint } from '../records.js';
import { mergeChunks, rawPoints, stepAggregate } from './chunk-points.js';
import { decodeChunk, type ChunkPoints } from './schema.js';
import { aggregateSeries, type AggregateGroup, type SeriesAggregation } from './series-aggregation.js';
import type { SeriesIndex } from './series-index.js';
import { pointOfSeries, toSamplePoint, toSeriesInfo, type PointRow, type SeriesRow } from './series-rows.js';
import type { SamplePoint, SampleQuery, SeriesFilter, SeriesInfo } from './store-types.js';

/** A cross-series aggregation over one metric, per step. */
export interface AggregateQuery {
  readonly name: string;
  readonly agg: SeriesAggregation;
  /** Label names to group by (every series has an `agent` label). @defaultValue [] (one group) */
  readonly by?: readonly string[];
  readonly agentId?: string;
  /** Only series whose labels have every one of these values. */
  readonly labels?: Readonly<Record<string, string>>;
  readonly fromMillis: number;
  /** Inclusive. */
  readonly toMillis: number;
  readonly stepMillis: number;
  /** More matching series than this is an error rather than a slow answer. @defaultValue 10000 */
  readonly maxSeries?: number;
}

export interface AggregateResult {
  /** Series that matched the name and filters. */
  readonly series: number;
  readonly groups: AggregateGroup[];
}

/** What the query API reads metrics through, so it never depends on the store class. */
export interface MetricsReader {
  /** The newest point of every series, to seed the latest-values cache at start. */
  latestPoints(): MetricPoint[];
  getSeries(seriesKey: string): SeriesInfo | undefined;
  /** Series matching every given filter, ordered by key. */
  listSeries(filter?: SeriesFilter): SeriesInfo[];
  /** Points of one series in `[from, to]`, raw or aggregated per step. Undefined when the series is unknown. */
  samples(query: SampleQuery): SamplePoint[] | undefined;
  /** Series of one metric combined per step (sum, avg, min, max, count, rate), grouped by labels. */
  aggregate(query: AggregateQuery): AggregateResult;
}

interface ChunkRow {
  data: Buffer;
}

const defaultMaxAggregateSeries = 10_000;

/** Reads metrics: series, chunks merged and aggregated per step, histogram points by SQL. */
export class MetricReader implements MetricsReader {
  private readonly statements;

  constructor(
    private readonly db: Database.Database,
    private readonly index: SeriesIndex,
    /** The connection is a reader next to a writer in another thread: its index is only a snapshot from open. */
    private readonly indexIsSnapshot: boolean,
  ) {
    this.statements = {
      seriesByKey: db.prepare('SELECT * FROM series WHERE key = ?'),
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
      // The chunks of many series in one statement; the ids come as one JSON array.
      chunksOfSeries: db.prepare('SELECT series_id, data FROM chunks WHERE series_id IN (SELECT value FROM json_each(?)) AND end_ms >= ? AND start_ms <= ? ORDER BY id').raw(),
      rawSamples: db.prepare('SELECT ts_ms, value, count, sum, buckets FROM points WHERE series_id = ? AND ts_ms >= ? AND ts_ms <= ? ORDER BY ts_ms LIMIT ?'),
      // With exactly one max() aggregate SQLite takes the bare columns from the row holding the maximum: the last point.
      lastSamples: db.prepare(
        `SELECT CAST((ts_ms - @from) / @step AS INTEGER) AS bucket, max(ts_ms) AS ts_ms, value, count, sum FROM points
         WHERE series_id = @id AND ts_ms >= @from AND ts_ms <= @to GROUP BY bucket ORDER BY bucket LIMIT @limit`,
      ),
      avgSamples: this.stepStatement('avg'),
      minSamples: this.stepStatement('min'),
      maxSamples: this.stepStatement('max'),
    };
  }

  private stepStatement(fn: 'avg' | 'min' | 'max'): Database.Statement {
    // count and sum of histograms are cumulative, so max() is the last value of the bucket.
    return this.db.prepare(
      `SELECT CAST((ts_ms - @from) / @step AS INTEGER) AS bucket, ${fn}(value) AS value, max(count) AS count, max(sum) AS sum FROM points
       WHERE series_id = @id AND ts_ms >= @from AND ts_ms <= @to GROUP BY bucket ORDER BY bucket LIMIT @limit`,
    );
  }

  latestPoints(): MetricPoint[] {
    const fromChunks = (this.statements.latestChunks.all() as Array<SeriesRow & ChunkRow>).map((row): MetricPoint => {
      const info = toSeriesInfo(row);
      const { count, timestamps, values } = decodeChunk(row.data);
      // Chunks are sorted: the last point is the newest.
      return { ...pointOfSeries(info, timestamps[count - 1] as number), value: values[count - 1] };
    });
    const rows = this.statements.latestPoints.all() as Array<SeriesRow & PointRow>;
    return fromChunks.concat(
      rows.map((row) => {
        const info = toSeriesInfo(row);
        const base = pointOfSeries(info, row.ts_ms);
        if (row.buckets !== null || row.count !== null) {
          const [bounds, bucketCounts] = row.buckets === null ? [undefined, undefined] : (JSON.parse(row.buckets) as [number[], number[]]);
          return { ...base, count: row.count ?? 0, sum: row.sum ?? 0, ...(bounds === undefined ? {} : { bounds, bucketCounts }) };
        }
        return { ...base, value: row.value ?? Number.NaN };
      }),
    );
  }

  getSeries(seriesKey: string): SeriesInfo | undefined {
    const row = this.statements.seriesByKey.get(seriesKey) as SeriesRow | undefined;
    return row === undefined ? undefined : toSeriesInfo(row);
  }

  listSeries(filter: SeriesFilter = {}): SeriesInfo[] {
    return this.seriesRows(filter).map(toSeriesInfo);
  }

  private seriesRows(filter: SeriesFilter): SeriesRow[] {
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
    for (const [k, v] of Object.entries(filter.labels ?? {})) {
      where.push('json_extract(labels, ?) IS ?');
      params.push(`$."${k.replace(/"/g, '""')}"`, v);
    }
    const sql = `SELECT * FROM series ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY key LIMIT ?`;
    return this.db.prepare(sql).all(...params, filter.limit ?? 1000) as SeriesRow[];
  }

  samples(query: SampleQuery): SamplePoint[] | undefined {
    const series = this.indexIsSnapshot ? this.index.lookup(query.seriesKey) : (this.index.get(query.seriesKey) ?? this.index.lookup(query.seriesKey));
    if (series === undefined) return undefined;
    const limit = query.limit ?? 11_000;
    const from = Math.floor(query.fromMillis);
    const to = Math.floor(query.toMillis);
    if (!series.histogram) {
      const points = this.chunkPoints(series.id, from, to);
      return query.stepMillis === undefined ? rawPoints(points, limit) : stepAggregate(points, from, Math.max(1, Math.floor(query.stepMillis)), query.agg ?? 'avg', limit);
    }
    if (query.stepMillis === undefined) return (this.statements.rawSamples.all(series.id, from, to, limit) as PointRow[]).map(toSamplePoint);
    const step = Math.max(1, Math.floor(query.stepMillis));
    const agg = query.agg ?? 'avg';
    const s = this.statements;
    const statement = agg === 'last' ? s.lastSamples : agg === 'min' ? s.minSamples : agg === 'max' ? s.maxSamples : s.avgSamples;
    const rows = statement.all({ from, step, id: series.id, to, limit }) as Array<{ bucket: number; value: number | null; count: number | null; sum: number | null }>;
    return rows.map((row) => ({
      t: from + row.bucket * step,
      v: row.value,
      ...(row.count === null ? {} : { count: row.count }),
      ...(row.sum === null ? {} : { sum: row.sum }),
    }));
  }

  /**
   * Finds the series of the metric in SQL, fetches the chunks of all of them
   * over the range in one statement, and combines them per step in JS
   * (chunks are compressed blobs SQLite cannot look into).
   */
  aggregate(query: AggregateQuery): AggregateResult {
    const maxSeries = query.maxSeries ?? defaultMaxAggregateSeries;
    const matched = this.seriesRows({
      name: query.name,
      ...(query.agentId === undefined ? {} : { agentId: query.agentId }),
      ...(query.labels === undefined ? {} : { labels: query.labels }),
      limit: maxSeries + 1,
    });
    if (matched.length > maxSeries) {
      throw new SlothError('SLOTH_ERR_BAD_REQUEST', `metric ${JSON.stringify(query.name)} has more than ${maxSeries} series matching the filters; narrow them with agent= or label=`, { details: { name: query.name, maxSeries } });
    }
    for (const row of matched) {
      const info = toSeriesInfo(row);
      if (info.kind !== 'gauge' && info.kind !== 'sum') {
        throw new SlothError('SLOTH_ERR_BAD_REQUEST', `metric ${JSON.stringify(query.name)} is a ${info.kind}; aggregation works on gauge and sum metrics (use /api/v1/samples for histograms)`, { details: { name: query.name, kind: info.kind } });
      }
      if (query.agg === 'rate' && !info.monotonic) {
        throw new SlothError('SLOTH_ERR_BAD_REQUEST', `agg "rate" needs a monotonic sum (a counter); metric ${JSON.stringify(query.name)} is a ${info.kind === 'sum' ? 'non-monotonic sum' : 'gauge'} (series ${info.key}); use sum, avg, min, max or count`, { details: { name: query.name, series: info.key } });
      }
    }
    const from = Math.floor(query.fromMillis);
    const to = Math.floor(query.toMillis);
    const spec = { agg: query.agg, by: query.by ?? [], fromMillis: from, toMillis: to, stepMillis: Math.max(1, Math.floor(query.stepMillis)) };
    if (matched.length === 0) return { series: 0, groups: [] };
    const ids = new Map<number, SeriesInfo>(matched.map((row) => [row.id, toSeriesInfo(row)]));
    const chunksOf = new Map<number, ChunkPoints[]>();
    const rows = this.statements.chunksOfSeries.all(JSON.stringify([...ids.keys()]), from, to) as Array<[seriesId: number, data: Buffer]>;
    for (const [seriesId, data] of rows) {
      const list = chunksOf.get(seriesId);
      if (list === undefined) chunksOf.set(seriesId, [decodeChunk(data)]);
      else list.push(decodeChunk(data));
    }
    const input = [...ids].map(([id, info]) => ({ info, points: mergeChunks(chunksOf.get(id) ?? [], from, to) }));
    return { series: matched.length, groups: aggregateSeries(input, spec) };
  }

  private chunkPoints(id: number, from: number, to: number): ChunkPoints {
    const rows = this.statements.chunksInRange.all(id, from, to) as ChunkRow[];
    return mergeChunks(
      rows.map((row) => decodeChunk(row.data)),
      from,
      to,
    );
  }
}
