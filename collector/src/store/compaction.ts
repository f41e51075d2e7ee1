import type Database from 'better-sqlite3';
import type { Logger } from '@sloth/core/logger';
import { mergeChunks } from './chunk-points.js';
import { chunkWords, decodeChunk, encodeChunk } from './schema.js';

/** Chunks are merged within aligned windows of this length, so one merged chunk never spans more. */
export const compactionWindowMillis = 3_600_000;
/** Series one compaction step (one transaction) looks at. */
const seriesPerStep = 50;
/** Chunks one step merges away at most: a step is one short write transaction, like a retention step. */
const chunksPerStep = 5_000;
const fullPassEvery = 60;

export interface CompactionResult {
  /** Chunks merged away (before − after). */
  readonly chunksRemoved: number;
  readonly series: number;
}

interface ChunkMeta {
  id: number;
  start_ms: number;
  end_ms: number;
}

/**
 * Merges a series' small chunks into one chunk per hour window. Ingest
 * writes one chunk per series per write transaction, so an agent reporting
 * every 10 s leaves one-point chunks: 360 rows for an hour of one series,
 * which makes reading a range cost a row per point. Merging keeps "a later
 * write wins": the merged chunk takes the largest id of its run, and a run
 * never reaches across a chunk that overlaps its window but is not merged,
 * so no point changes places with one it shares a timestamp with.
 */
export class Compaction {
  private readonly statements;
  private running = false;
  /**
   * Background passes so far. Every {@link fullPassEvery}th pass (the first
   * included: a store written before compaction existed) looks at every
   * chunk, so late points for old windows (a spool replayed after an outage)
   * get merged too; the others only at the last two windows.
   */
  private passes = 0;

  constructor(
    private readonly db: Database.Database,
    private readonly logger: Logger,
    private readonly isClosed: () => boolean,
  ) {
    this.statements = {
      seriesPage: db.prepare(`SELECT id FROM series WHERE id > ? AND kind IN ('gauge', 'sum') ORDER BY id LIMIT ?`).pluck(),
      // Every chunk that overlaps a window from `since` on ends at or after `since`: an index range, in write order.
      recentChunks: db.prepare('SELECT id, start_ms, end_ms FROM chunks WHERE series_id = @id AND end_ms >= @since ORDER BY id'),
      chunkData: db.prepare('SELECT data FROM chunks WHERE id = ?').pluck(),
      deleteChunk: db.prepare('DELETE FROM chunks WHERE id = ?'),
      insertChunk: db.prepare('INSERT INTO chunks (id, series_id, start_ms, end_ms, count, data) VALUES (?, ?, ?, ?, ?, ?)'),
    };
  }

  /**
   * Merges chunks whose points are all older than `cutoffMillis` (the
   * windows before it are complete; later points may still arrive for the
   * current one, and are merged by a later pass). Synchronous.
   */
  compact(cutoffMillis: number): CompactionResult {
    const total = { chunksRemoved: 0, series: 0 };
    const cursor = { seriesId: 0 };
    for (;;) {
      const step = this.step(cutoffMillis, cursor, true);
      total.chunksRemoved += step.chunksRemoved;
      total.series += step.series;
      if (step.done) return total;
    }
  }

  /** A compaction pass that yields to the event loop between steps. */
  async compactInBackground(cutoffMillis: number): Promise<CompactionResult | undefined> {
    if (this.running || this.isClosed()) return undefined;
    this.running = true;
    const total = { chunksRemoved: 0, series: 0 };
    try {
      const cursor = { seriesId: 0 };
      for (;;) {
        if (this.isClosed()) return total;
        const step = this.step(cutoffMillis, cursor, this.passes % fullPassEvery === 0);
        total.chunksRemoved += step.chunksRemoved;
        total.series += step.series;
        if (step.done) break;
        await new Promise<void>((resolve) => setImmediate(resolve));
      }
      this.passes += 1;
      if (total.chunksRemoved > 0) this.logger.debug({ compacted: total, cutoffMillis }, 'chunk compaction pass done');
      return total;
    } catch (error) {
      this.logger.error({ err: error }, 'chunk compaction pass failed');
      return total;
    } finally {
      this.running = false;
    }
  }

  private step(cutoffMillis: number, cursor: { seriesId: number }, everyChunk: boolean): CompactionResult & { done: boolean } {
    const cutoff = Math.floor(cutoffMillis);
    const since = everyChunk ? Number.MIN_SAFE_INTEGER : Math.floor(cutoff / compactionWindowMillis) * compactionWindowMillis - compactionWindowMillis;
    const s = this.statements;
    return this.db.transaction(() => {
      const result = { chunksRemoved: 0, series: 0, done: false };
      let budget = chunksPerStep;
      const ids = s.seriesPage.all(cursor.seriesId, seriesPerStep) as number[];
      for (const seriesId of ids) {
        const chunks = s.recentChunks.all({ id: seriesId, since }) as ChunkMeta[];
        let removed = 0;
        /** Window → the run of mergeable chunks since the last chunk that overlapped the window without being mergeable. */
        const runs = new Map<number, ChunkMeta[]>();
        const flush = (window: number): void => {
          const run = runs.get(window);
          runs.delete(window);
          if (run !== undefined && run.length >= 2) removed += this.merge(seriesId, run);
        };
        for (const chunk of chunks) {
          if (removed >= budget) break;
          const first = Math.floor(chunk.start_ms / compactionWindowMillis);
          const last = Math.floor(chunk.end_ms / compactionWindowMillis);
          if (chunk.end_ms < cutoff && first === last) {
            const run = runs.get(first);
            if (run === undefined) runs.set(first, [chunk]);
            else run.push(chunk);
            continue;
          }
          // A chunk that stays as it is ends the runs of the windows it overlaps: merging across it could reorder points it shares with them.
          for (const window of [...runs.keys()]) if (window >= first && window <= last) flush(window);
        }
        for (const window of [...runs.keys()]) flush(window);
        if (removed > 0) {
          result.chunksRemoved += removed;
          result.series += 1;
        }
        budget -= removed;
        if (budget <= 0) return result; // this series may have more runs: the next step starts with it again
        cursor.seriesId = seriesId;
      }
      result.done = ids.length < seriesPerStep;
      return result;
    })();
  }

  /** Replaces a run of consecutive chunks by one; returns how many rows fewer there are. */
  private merge(seriesId: number, run: readonly ChunkMeta[]): number {
    const s = this.statements;
    const merged = mergeChunks(
      run.map((chunk) => decodeChunk(s.chunkData.get(chunk.id) as Buffer)),
      Number.NEGATIVE_INFINITY,
      Number.POSITIVE_INFINITY,
    );
    const words = chunkWords(merged.count);
    words.set(merged.timestamps.subarray(0, merged.count), 1);
    words.set(merged.values.subarray(0, merged.count), 1 + merged.count);
    for (const chunk of run) s.deleteChunk.run(chunk.id);
    const lastId = (run[run.length - 1] as ChunkMeta).id;
    s.insertChunk.run(lastId, seriesId, words[1], words[merged.count], merged.count, encodeChunk(words, merged.count));
    return run.length - 1;
  }
}
