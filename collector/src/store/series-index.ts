import type Database from 'better-sqlite3';

/** Kinds whose points stay one `points` row each (they carry count, sum and buckets). */
export function isHistogramKind(kind: string): boolean {
  return kind === 'histogram' || kind === 'exponential_histogram' || kind === 'summary';
}

/** What the store keeps in memory about one series. */
export interface IndexedSeries {
  readonly id: number;
  readonly key: string;
  readonly agentId: string;
  /** Points in `points` rows (histogram kinds) rather than chunks. */
  readonly histogram: boolean;
}

/**
 * The store's one in-memory index of series: by key (writes and the
 * cardinality check), by id (retention) and a count per agent. Loaded at
 * open; the writer adds to it, retention removes from it, and a rolled-back
 * transaction reloads it from the database.
 */
export class SeriesIndex {
  private readonly byKey = new Map<string, IndexedSeries>();
  private readonly byId = new Map<number, IndexedSeries>();
  private readonly perAgent = new Map<string, number>();
  private readonly selectAll: Database.Statement;
  private readonly selectByKey: Database.Statement;

  constructor(db: Database.Database) {
    this.selectAll = db.prepare('SELECT id, key, agent_id, kind FROM series');
    this.selectByKey = db.prepare('SELECT id, key, agent_id, kind FROM series WHERE key = ?');
    this.reload();
  }

  reload(): void {
    this.byKey.clear();
    this.byId.clear();
    this.perAgent.clear();
    for (const row of this.selectAll.all() as SeriesIdRow[]) this.add(row.key, row.id, row.agent_id, isHistogramKind(row.kind));
  }

  add(key: string, id: number, agentId: string, histogram: boolean): void {
    const entry: IndexedSeries = { id, key, agentId, histogram };
    this.byKey.set(key, entry);
    this.byId.set(id, entry);
    this.perAgent.set(agentId, (this.perAgent.get(agentId) ?? 0) + 1);
  }

  /** Forgets a series; returns its key, or undefined when it was not known. */
  remove(id: number): string | undefined {
    const entry = this.byId.get(id);
    if (entry === undefined) return undefined;
    this.byKey.delete(entry.key);
    this.byId.delete(id);
    const left = (this.perAgent.get(entry.agentId) ?? 1) - 1;
    if (left <= 0) this.perAgent.delete(entry.agentId);
    else this.perAgent.set(entry.agentId, left);
    return entry.key;
  }

  get(key: string): IndexedSeries | undefined {
    return this.byKey.get(key);
  }

  /**
   * The series as the database has it now. A read-only connection next to a
   * writer in another thread must ask: its index is a snapshot from open, and
   * the writer may have removed the series since, or created it again under
   * another id.
   */
  lookup(key: string): IndexedSeries | undefined {
    const row = this.selectByKey.get(key) as SeriesIdRow | undefined;
    return row === undefined ? undefined : { id: row.id, key: row.key, agentId: row.agent_id, histogram: isHistogramKind(row.kind) };
  }

  has(key: string): boolean {
    return this.byKey.has(key);
  }

  count(agentId?: string): number {
    return agentId === undefined ? this.byKey.size : (this.perAgent.get(agentId) ?? 0);
  }

  *keys(): Iterable<[seriesKey: string, agentId: string]> {
    for (const { key, agentId } of this.byId.values()) yield [key, agentId];
  }
}

interface SeriesIdRow {
  id: number;
  key: string;
  agent_id: string;
  kind: string;
}
