import Database from 'better-sqlite3';
import type { Logger } from '@sloth/core/logger';
import { chunkWords, encodeChunk, schemaStatements, schemaVersion } from './schema.js';

/** Series whose points one migration transaction moves into chunks. */
const migrateSeriesPerTransaction = 200;
/** Points per chunk when migrating a version 1 store. */
const migratePointsPerChunk = 1_000;

export interface OpenDatabaseOptions {
  /** Page cache of this connection, MiB. */
  readonly cacheMb: number;
  /**
   * A connection that only reads (the query side next to the writer thread):
   * opened `readonly`, so a bug on the query path cannot write, and it never
   * creates or migrates the schema (the writer did that before it opened).
   */
  readonly readonly: boolean;
  readonly logger: Logger;
}

/** Opens the store file: WAL mode, the schema created and migrated on a writable connection, checked on a read-only one. */
export function openDatabase(path: string, options: OpenDatabaseOptions): Database.Database {
  const db = new Database(path, { readonly: options.readonly, fileMustExist: options.readonly });
  try {
    db.pragma(`cache_size = -${Math.max(1, Math.round(options.cacheMb * 1000))}`);
    db.pragma('temp_store = MEMORY');
    if (options.readonly) {
      const stored = db.prepare(`SELECT value FROM meta WHERE key = 'schema_version'`).pluck().get() as string | undefined;
      if (stored !== String(schemaVersion)) throw new Error(`its schema version is ${stored ?? 'missing'}; a read-only connection needs version ${schemaVersion} (open the writer first)`);
      return db;
    }
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    for (const statement of schemaStatements) db.exec(statement);
    upgradeSchema(db, path, options.logger);
    return db;
  } catch (error) {
    db.close();
    throw error;
  }
}

/** Records the schema version of a new store; moves a version 1 store's gauge and sum points into chunks. */
function upgradeSchema(db: Database.Database, path: string, logger: Logger): void {
  const stored = db.prepare(`SELECT value FROM meta WHERE key = 'schema_version'`).pluck().get() as string | undefined;
  const setVersion = db.prepare(`INSERT OR REPLACE INTO meta (key, value) VALUES ('schema_version', ?)`);
  if (stored === undefined) {
    setVersion.run(String(schemaVersion));
    return;
  }
  const version = Number(stored);
  if (version === schemaVersion) return;
  if (!(version >= 1 && version < schemaVersion)) {
    throw new Error(`its schema version is ${stored}; this collector reads versions 1 to ${schemaVersion} (was it written by a newer collector?)`);
  }
  migrateToChunks(db, path, logger);
  setVersion.run(String(schemaVersion));
}

/**
 * Schema 1 → 2: moves each gauge/sum series' `points` rows into chunks of
 * up to {@link migratePointsPerChunk} points, a few series per
 * transaction. A series' rows move in one transaction, so a migration cut
 * short resumes where it stopped at the next open (the version is set last).
 */
function migrateToChunks(db: Database.Database, path: string, logger: Logger): void {
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
  logger.info({ path }, 'store schema 1 -> 2: moving gauge and sum points into chunks');
  let cursor = 0;
  for (;;) {
    const ids = page.all(cursor, migrateSeriesPerTransaction) as number[];
    if (ids.length === 0) break;
    moveSeries(ids);
    cursor = ids[ids.length - 1] as number;
  }
  logger.info({ path, ...moved, millis: Date.now() - startedMillis }, 'store schema 2: migration done');
}
