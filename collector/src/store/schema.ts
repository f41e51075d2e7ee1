/**
 * The SQLite schema of the collector's store.
 *
 * Gauge and sum points are stored in chunks: one `chunks` row per series per
 * write transaction, its points in a BLOB (see {@link encodeChunk}), so the
 * writer does one insert per series instead of one per point. Histogram
 * kinds (rare, and each point carries buckets) keep one `points` row per
 * point, keyed by series id and millisecond timestamp. Labels live once per
 * series (JSON in `series.labels`), never per point.
 *
 * Version 1 stored every point in `points`; opening such a store moves its
 * gauge and sum points into chunks (`SqliteStore`).
 */
export const schemaVersion = 2;

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
  // Gauge and sum points. start_ms/end_ms: the oldest and newest point of the
  // chunk; count: its number of points. Rows are appended in write order, so
  // the rowid also orders chunks for "a later write wins".
  `CREATE TABLE IF NOT EXISTS chunks (
     id INTEGER PRIMARY KEY,
     series_id INTEGER NOT NULL,
     start_ms INTEGER NOT NULL,
     end_ms INTEGER NOT NULL,
     count INTEGER NOT NULL,
     data BLOB NOT NULL
   )`,
  `CREATE INDEX IF NOT EXISTS chunks_series_end ON chunks (series_id, end_ms)`,
  // Histogram kinds only (since version 2). value: the mean (sum / count) so that
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

/** The first byte of every chunk BLOB; a reader refuses any other. */
export const chunkFormat = 1;

/**
 * Points of one chunk: timestamps (integer milliseconds, strictly
 * increasing) and values (NaN: no value), both of length `count`.
 */
export interface ChunkPoints {
  readonly count: number;
  readonly timestamps: Float64Array;
  readonly values: Float64Array;
}

const hostIsLittleEndian = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/**
 * Chunk BLOB layout, 8 + 16·count bytes: byte 0 the format ({@link chunkFormat}),
 * bytes 1–3 zero, bytes 4–7 the count (uint32 LE), then `count` float64 LE
 * timestamps, then `count` float64 LE values. Plain float64 columns keep
 * decoding a memory copy (or none) and the 8-byte header keeps them aligned.
 *
 * `words` holds the header word followed by the two columns, as the writer
 * fills it in place; the result shares its memory.
 */
export function encodeChunk(words: Float64Array, count: number): Buffer {
  const header = new DataView(words.buffer, words.byteOffset, 8);
  header.setUint32(0, 0);
  header.setUint8(0, chunkFormat);
  header.setUint32(4, count, true);
  if (!hostIsLittleEndian) {
    const view = new DataView(words.buffer, words.byteOffset);
    for (let i = 1; i < 1 + 2 * count; i += 1) view.setFloat64(i * 8, words[i] as number, true);
  }
  return Buffer.from(words.buffer, words.byteOffset, 8 * (1 + 2 * count));
}

/** Allocates the `words` of a chunk of `count` points: header, then timestamps at 1, values at 1 + count. */
export function chunkWords(count: number): Float64Array {
  return new Float64Array(chunkWordCount(count));
}

/** How many words a chunk of `count` points takes. */
export function chunkWordCount(count: number): number {
  return 1 + 2 * count;
}

/** Decodes a chunk BLOB; throws on an unknown format or a truncated BLOB. */
export function decodeChunk(data: Uint8Array): ChunkPoints {
  if (data.length < 8 || data[0] !== chunkFormat) {
    throw new Error(`unknown chunk format ${data[0] ?? 'none'} (this collector reads format ${chunkFormat}): was the store written by a newer version?`);
  }
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const count = view.getUint32(4, true);
  if (data.length !== 8 + 16 * count) throw new Error(`chunk of ${count} points is ${data.length} bytes, expected ${8 + 16 * count}`);
  if (hostIsLittleEndian) {
    const aligned = data.byteOffset % 8 === 0 ? data : data.slice();
    return {
      count,
      timestamps: new Float64Array(aligned.buffer, aligned.byteOffset + 8, count),
      values: new Float64Array(aligned.buffer, aligned.byteOffset + 8 + 8 * count, count),
    };
  }
  const timestamps = new Float64Array(count);
  const values = new Float64Array(count);
  for (let i = 0; i < count; i += 1) {
    timestamps[i] = view.getFloat64(8 + 8 * i, true);
    values[i] = view.getFloat64(8 + 8 * (count + i), true);
  }
  return { count, timestamps, values };
}
