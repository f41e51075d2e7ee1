/**
 * The SQLite schema of the collector's store.
 *
 * Points are keyed by an integer series id and a millisecond timestamp in a
 * `WITHOUT ROWID` table, so a batched insert touches one B-tree and a range
 * read of one series is a single index walk. Labels live once per series
 * (JSON in `series.labels`), never per point.
 */
export const schemaVersion = 1;

export const schemaStatements: readonly string[] = [
  `CREATE TABLE IF NOT EXISTS meta (
     key TEXT PRIMARY KEY,
     value TEXT NOT NULL
   ) WITHOUT ROWID`,
  `CREATE TABLE IF NOT EXISTS series (
     id INTEGER PRIMARY KEY,
     key TEXT NOT NULL UNIQUE,
     name TEXT NOT NULL,
     agent_id TEXT NOT NULL,
     kind TEXT NOT NULL,
     unit TEXT NOT NULL,
     description TEXT NOT NULL,
     monotonic INTEGER NOT NULL,
     labels TEXT NOT NULL,
     created_ms INTEGER NOT NULL
   )`,
  `CREATE INDEX IF NOT EXISTS series_name ON series (name)`,
  `CREATE INDEX IF NOT EXISTS series_agent ON series (agent_id)`,
  // value: gauges and sums; for histograms the mean (sum / count) so that
  // step aggregation has something meaningful to work on. buckets: JSON
  // `[bounds, counts]` for histograms, NULL otherwise.
  `CREATE TABLE IF NOT EXISTS points (
     series_id INTEGER NOT NULL,
     ts_ms INTEGER NOT NULL,
     value REAL,
     count REAL,
     sum REAL,
     buckets TEXT,
     PRIMARY KEY (series_id, ts_ms)
   ) WITHOUT ROWID`,
  `CREATE TABLE IF NOT EXISTS spans (
     id INTEGER PRIMARY KEY,
     trace_id TEXT NOT NULL,
     span_id TEXT NOT NULL,
     parent_span_id TEXT NOT NULL,
     name TEXT NOT NULL,
     kind INTEGER NOT NULL,
     agent_id TEXT NOT NULL,
     service_name TEXT NOT NULL,
     start_ms INTEGER NOT NULL,
     end_ms INTEGER NOT NULL,
     status_code INTEGER NOT NULL,
     status_message TEXT NOT NULL,
     attributes TEXT NOT NULL
   )`,
  `CREATE INDEX IF NOT EXISTS spans_start ON spans (start_ms)`,
  `CREATE INDEX IF NOT EXISTS spans_trace ON spans (trace_id)`,
  `CREATE TABLE IF NOT EXISTS logs (
     id INTEGER PRIMARY KEY,
     ts_ms INTEGER NOT NULL,
     agent_id TEXT NOT NULL,
     service_name TEXT NOT NULL,
     severity_number INTEGER NOT NULL,
     severity_text TEXT NOT NULL,
     body TEXT NOT NULL,
     trace_id TEXT NOT NULL,
     span_id TEXT NOT NULL,
     attributes TEXT NOT NULL
   )`,
  `CREATE INDEX IF NOT EXISTS logs_ts ON logs (ts_ms)`,
  `CREATE TABLE IF NOT EXISTS agents (
     id TEXT PRIMARY KEY,
     principal TEXT NOT NULL,
     state TEXT NOT NULL,
     first_seen_ms INTEGER NOT NULL,
     last_seen_ms INTEGER NOT NULL,
     attributes TEXT NOT NULL
   ) WITHOUT ROWID`,
];
