import type Database from 'better-sqlite3';
import type { Logger } from '@sloth/core/logger';
import { isHistogramKind, type SeriesIndex } from './series-index.js';
import type { PruneResult } from './store-types.js';

/** Rows (chunks, histogram points, spans, logs) deleted per retention step; a step is one short transaction. */
const pruneRowsPerChunk = 5_000;
const pruneSeriesPerChunk = 200;

type StepResult = PruneResult & { done: boolean };

/**
 * Deletes data older than a cutoff in small transactions, and series left
 * without points (telling listeners which, so `/metrics` drops them).
 */
export class Retention {
  private readonly statements;
  private readonly listeners: Array<(seriesKeys: readonly string[]) => void> = [];
  private running = false;

  constructor(
    private readonly db: Database.Database,
    private readonly index: SeriesIndex,
    private readonly logger: Logger,
    /** True once the store is closed: a background pass stops between steps. */
    private readonly isClosed: () => boolean,
  ) {
    this.statements = {
      seriesPage: db.prepare('SELECT id, kind FROM series WHERE id > ? ORDER BY id LIMIT ?'),
      chunks: db.prepare(`DELETE FROM chunks WHERE id IN (SELECT id FROM chunks WHERE series_id = @id AND end_ms < @cutoff LIMIT @budget) RETURNING count`).pluck(),
      points: db.prepare(
        `DELETE FROM points WHERE series_id = @id AND ts_ms < min(@cutoff,
           coalesce((SELECT ts_ms FROM points WHERE series_id = @id ORDER BY ts_ms LIMIT 1 OFFSET @budget), @cutoff))`,
      ),
      seriesHasPoints: db.prepare('SELECT EXISTS (SELECT 1 FROM chunks WHERE series_id = @id) OR EXISTS (SELECT 1 FROM points WHERE series_id = @id)').pluck(),
      deleteSeries: db.prepare('DELETE FROM series WHERE id = ? AND created_ms < ?'),
      spans: db.prepare('DELETE FROM spans WHERE id IN (SELECT id FROM spans WHERE start_ms < ? LIMIT ?)'),
      logs: db.prepare('DELETE FROM logs WHERE id IN (SELECT id FROM logs WHERE ts_ms < ? LIMIT ?)'),
    };
  }

  onSeriesRemoved(listener: (seriesKeys: readonly string[]) => void): void {
    this.listeners.push(listener);
  }

  /**
   * Deletes points, spans and logs older than `cutoffMillis`, and series left
   * without points. Gauge and sum points go a chunk at a time: a chunk is
   * deleted once its newest point is older than the cutoff, so a chunk
   * spanning the cutoff keeps its older points until then. Synchronous.
   */
  pruneOlderThan(cutoffMillis: number): PruneResult {
    const total = { points: 0, series: 0, spans: 0, logs: 0 };
    const cursor = { seriesId: 0 };
    for (;;) {
      const step = this.step(cutoffMillis, cursor);
      add(total, step);
      if (step.done) return total;
    }
  }

  /** One retention pass that yields to the event loop between steps, so writes never wait long. */
  async pruneInBackground(cutoffMillis: number): Promise<PruneResult | undefined> {
    if (this.running || this.isClosed()) return undefined;
    this.running = true;
    const total = { points: 0, series: 0, spans: 0, logs: 0 };
    try {
      const cursor = { seriesId: 0 };
      for (;;) {
        if (this.isClosed()) return total;
        const step = this.step(cutoffMillis, cursor);
        add(total, step);
        if (step.done) break;
        await new Promise<void>((resolve) => setImmediate(resolve));
      }
      if (total.points + total.spans + total.logs + total.series > 0) this.logger.info({ pruned: total, cutoffMillis }, 'retention pass done');
      return total;
    } catch (error) {
      this.logger.error({ err: error }, 'retention pass failed');
      return total;
    } finally {
      this.running = false;
    }
  }

  private step(cutoffMillis: number, cursor: { seriesId: number }): StepResult {
    const cutoff = Math.floor(cutoffMillis);
    const s = this.statements;
    const removedIds: number[] = [];
    const run = this.db.transaction((): StepResult => {
      const result = { points: 0, series: 0, spans: 0, logs: 0, done: false };
      result.spans = s.spans.run(cutoff, pruneRowsPerChunk).changes;
      result.logs = s.logs.run(cutoff, pruneRowsPerChunk).changes;
      let budget = pruneRowsPerChunk;
      const page = s.seriesPage.all(cursor.seriesId, pruneSeriesPerChunk) as Array<{ id: number; kind: string }>;
      for (const { id, kind } of page) {
        let deleted: number;
        if (isHistogramKind(kind)) {
          deleted = s.points.run({ id, cutoff, budget }).changes;
          result.points += deleted;
        } else {
          // Whole chunks: a chunk goes once its newest point is older than the cutoff.
          const counts = s.chunks.all({ id, cutoff, budget }) as number[];
          deleted = counts.length;
          for (const count of counts) result.points += count;
        }
        budget -= deleted;
        if (budget <= 0) break; // this series may have more: revisit it next step
        if (s.seriesHasPoints.get({ id }) === 0 && s.deleteSeries.run(id, cutoff).changes > 0) {
          removedIds.push(id);
          result.series += 1;
        }
        cursor.seriesId = id;
      }
      result.done = budget > 0 && page.length < pruneSeriesPerChunk && result.spans < pruneRowsPerChunk && result.logs < pruneRowsPerChunk;
      return result;
    });
    // The index changes only after the commit: a rolled-back step leaves it as it was.
    const result = run();
    const removed: string[] = [];
    for (const id of removedIds) {
      const key = this.index.remove(id);
      if (key !== undefined) removed.push(key);
    }
    if (removed.length > 0) {
      for (const listener of this.listeners) {
        try {
          listener(removed);
        } catch (error) {
          this.logger.error({ err: error }, 'series-removed listener failed');
        }
      }
    }
    return result;
  }
}

function add(total: { points: number; series: number; spans: number; logs: number }, step: PruneResult): void {
  total.points += step.points;
  total.series += step.series;
  total.spans += step.spans;
  total.logs += step.logs;
}
