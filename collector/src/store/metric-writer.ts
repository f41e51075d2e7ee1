import type Database from 'better-sqlite3';
import type { HistogramValue, IngestBatch, MetricSeries } from '../records.js';
import { sortedUnique } from './chunk-points.js';
import { chunkWordCount, encodeChunk } from './schema.js';
import { isHistogramKind, type SeriesIndex } from './series-index.js';

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

const emptyWords = new Float64Array(0);

/**
 * Writes metric points inside the store's write transaction: gauge and sum
 * points as one chunk per series, histogram kinds as `points` rows. New
 * series are created and added to the index as they appear.
 */
export class MetricWriter {
  private readonly insertSeries: Database.Statement;
  private readonly insertPoint: Database.Statement;
  private readonly insertChunk: Database.Statement;

  constructor(
    db: Database.Database,
    private readonly index: SeriesIndex,
  ) {
    this.insertSeries = db.prepare(
      'INSERT INTO series (key, name, agent_id, kind, unit, description, monotonic, labels, created_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)',
    );
    this.insertPoint = db.prepare('INSERT OR REPLACE INTO points (series_id, ts_ms, value, count, sum, buckets) VALUES (?, ?, ?, ?, ?, ?)');
    this.insertChunk = db.prepare('INSERT INTO chunks (series_id, start_ms, end_ms, count, data) VALUES (?, ?, ?, ?, ?)');
  }

  /**
   * Gauge and sum points of all batches: one chunk per series. Two passes
   * over the columns: the first finds each point's series and counts the
   * points per series (storing histogram-kind points as rows right away), the
   * second copies timestamps and values into each chunk's buffer.
   */
  write(batches: readonly IngestBatch[], nowMillis: number): void {
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
          const known = this.index.get(s.key) ?? this.createSeries(s, nowMillis);
          if (known.histogram) {
            slot = -known.id;
          } else {
            slot = chunks.length;
            chunks.push({ id: known.id, count: 0, filled: 0, words: emptyWords, lastMillis: Number.NEGATIVE_INFINITY, unordered: false });
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
    for (const chunk of chunks) {
      const { words, count } = chunk.unordered ? sortedUnique(chunk.words, chunk.count) : chunk;
      this.insertChunk.run(chunk.id, words[1], words[count], count, encodeChunk(words, count));
    }
  }

  /** Creates a series from `series` (its first point's) and adds it to the index. */
  private createSeries(series: MetricSeries, nowMillis: number): { id: number; histogram: boolean } {
    const result = this.insertSeries.run(
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
    const histogram = isHistogramKind(series.kind);
    this.index.add(series.key, id, series.agentId, histogram);
    return { id, histogram };
  }

  private writeHistogramPoint(id: number, ts: number, raw: number, histogram: HistogramValue | undefined): void {
    const value = Number.isNaN(raw) ? null : raw;
    if (histogram === undefined) {
      this.insertPoint.run(id, ts, value, null, null, null);
      return;
    }
    const count = histogram.count;
    const sum = histogram.sum ?? null;
    const mean = value ?? (sum !== null && count > 0 ? sum / count : null);
    const buckets = histogram.bucketCounts === undefined ? null : JSON.stringify([histogram.bounds ?? [], histogram.bucketCounts]);
    this.insertPoint.run(id, ts, mean, count, sum, buckets);
  }
}
