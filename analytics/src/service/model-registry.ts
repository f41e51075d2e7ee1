import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { SlothError } from '@sloth/core';

/** What a registry entry holds a model of. */
export type ModelKind = 'detector' | 'forecast';

/** One stored model version. */
export interface ModelRecord {
  seriesId: string;
  kind: ModelKind;
  /** Monotonic per series and kind. */
  version: number;
  createdMillis: number;
  /** Free-form facts: model name, training rows, loss, step, … */
  metadata: Record<string, unknown>;
  /** Backtest error of the model (MASE for forecasts, training loss for detectors); null when not measured. */
  backtestScore: number | null;
  /** The weights or artifact, JSON-serialisable. */
  artifact: unknown;
}

/** A persisted detector state. */
export interface SnapshotRecord {
  seriesId: string;
  agentId: string;
  updatedMillis: number;
  snapshot: unknown;
}

interface ModelRow {
  series: string;
  kind: ModelKind;
  version: number;
  created_millis: number;
  metadata: string;
  backtest_score: number | null;
  artifact: string;
}

interface SnapshotRow {
  series: string;
  agent: string;
  updated_millis: number;
  snapshot: string;
}

/**
 * The model registry: trained models (weights, metadata, backtest score,
 * version) and detector snapshots in one SQLite file, so a restarted service
 * resumes with the same models and state. WAL mode lets several analytics
 * processes on one machine share the file.
 */
export class ModelRegistry {
  readonly path: string;
  private readonly db: Database.Database;
  private readonly statements: {
    insertModel: Database.Statement<[string, string, number, number, string, number | null, string]>;
    latestModel: Database.Statement<[string, string], ModelRow>;
    listModels: Database.Statement<[string, string], ModelRow>;
    pruneModels: Database.Statement<[string, string, string, string, number]>;
    countModels: Database.Statement<[], { n: number }>;
    upsertSnapshot: Database.Statement<[string, string, number, string]>;
    getSnapshot: Database.Statement<[string], SnapshotRow>;
    countSnapshots: Database.Statement<[], { n: number }>;
  };

  constructor(path: string) {
    this.path = path;
    try {
      mkdirSync(dirname(path), { recursive: true });
      this.db = new Database(path);
      this.db.pragma('journal_mode = WAL');
      this.db.pragma('synchronous = NORMAL');
      this.db.pragma('busy_timeout = 5000');
      this.db.exec(`
        CREATE TABLE IF NOT EXISTS models (
          series TEXT NOT NULL,
          kind TEXT NOT NULL CHECK (kind IN ('detector', 'forecast')),
          version INTEGER NOT NULL,
          created_millis INTEGER NOT NULL,
          metadata TEXT NOT NULL,
          backtest_score REAL,
          artifact TEXT NOT NULL,
          PRIMARY KEY (series, kind, version)
        ) WITHOUT ROWID;
        CREATE TABLE IF NOT EXISTS detector_snapshots (
          series TEXT PRIMARY KEY,
          agent TEXT NOT NULL,
          updated_millis INTEGER NOT NULL,
          snapshot TEXT NOT NULL
        ) WITHOUT ROWID;
      `);
    } catch (error) {
      throw new SlothError('SLOTH_ERR_STORAGE', `cannot open the model registry ${path}: ${(error as Error).message}`, { cause: error, details: { path } });
    }
    this.statements = {
      insertModel: this.db.prepare(
        'INSERT OR REPLACE INTO models (series, kind, version, created_millis, metadata, backtest_score, artifact) VALUES (?, ?, ?, ?, ?, ?, ?)',
      ),
      latestModel: this.db.prepare('SELECT * FROM models WHERE series = ? AND kind = ? ORDER BY version DESC LIMIT 1'),
      listModels: this.db.prepare('SELECT * FROM models WHERE series = ? AND kind = ? ORDER BY version DESC'),
      pruneModels: this.db.prepare(
        'DELETE FROM models WHERE series = ? AND kind = ? AND version NOT IN (SELECT version FROM models WHERE series = ? AND kind = ? ORDER BY version DESC LIMIT ?)',
      ),
      countModels: this.db.prepare('SELECT COUNT(*) AS n FROM models'),
      upsertSnapshot: this.db.prepare(
        'INSERT INTO detector_snapshots (series, agent, updated_millis, snapshot) VALUES (?, ?, ?, ?) ON CONFLICT (series) DO UPDATE SET agent = excluded.agent, updated_millis = excluded.updated_millis, snapshot = excluded.snapshot',
      ),
      getSnapshot: this.db.prepare('SELECT * FROM detector_snapshots WHERE series = ?'),
      countSnapshots: this.db.prepare('SELECT COUNT(*) AS n FROM detector_snapshots'),
    };
  }

  /** Stores a model version and drops all but the newest `keepVersions` of that series and kind. */
  saveModel(record: ModelRecord, keepVersions = 3): void {
    const tx = this.db.transaction(() => {
      this.statements.insertModel.run(
        record.seriesId,
        record.kind,
        record.version,
        record.createdMillis,
        JSON.stringify(record.metadata),
        record.backtestScore !== null && Number.isFinite(record.backtestScore) ? record.backtestScore : null,
        JSON.stringify(record.artifact),
      );
      this.statements.pruneModels.run(record.seriesId, record.kind, record.seriesId, record.kind, keepVersions);
    });
    tx();
  }

  /** The newest version of a series' model of one kind, if any. */
  latestModel(seriesId: string, kind: ModelKind): ModelRecord | undefined {
    const row = this.statements.latestModel.get(seriesId, kind);
    return row === undefined ? undefined : toModelRecord(row);
  }

  /** Every stored version, newest first. */
  listModels(seriesId: string, kind: ModelKind): ModelRecord[] {
    return this.statements.listModels.all(seriesId, kind).map(toModelRecord);
  }

  modelCount(): number {
    return this.statements.countModels.get()?.n ?? 0;
  }

  /** Writes many snapshots in one transaction. */
  saveSnapshots(records: readonly SnapshotRecord[]): void {
    if (records.length === 0) return;
    const tx = this.db.transaction((items: readonly SnapshotRecord[]) => {
      for (const r of items) this.statements.upsertSnapshot.run(r.seriesId, r.agentId, r.updatedMillis, JSON.stringify(r.snapshot));
    });
    tx(records);
  }

  loadSnapshot(seriesId: string): SnapshotRecord | undefined {
    const row = this.statements.getSnapshot.get(seriesId);
    if (row === undefined) return undefined;
    return { seriesId: row.series, agentId: row.agent, updatedMillis: row.updated_millis, snapshot: JSON.parse(row.snapshot) as unknown };
  }

  snapshotCount(): number {
    return this.statements.countSnapshots.get()?.n ?? 0;
  }

  close(): void {
    if (this.db.open) this.db.close();
  }
}

function toModelRecord(row: ModelRow): ModelRecord {
  return {
    seriesId: row.series,
    kind: row.kind,
    version: row.version,
    createdMillis: row.created_millis,
    metadata: JSON.parse(row.metadata) as Record<string, unknown>,
    backtestScore: row.backtest_score,
    artifact: JSON.parse(row.artifact) as unknown,
  };
}
