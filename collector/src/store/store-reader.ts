import type { LogRecordEntry, SpanRecord } from '../records.js';
import type { MetricsReader } from './metric-reader.js';
import type { LogQuery, SpanQuery } from './store-types.js';

export type { AggregateQuery, AggregateResult, MetricsReader } from './metric-reader.js';

/** Everything the query API reads (metrics, spans, logs), so it depends on this and not on the store class. */
export interface StoreReader extends MetricsReader {
  /** Newest spans first. */
  spans(query?: SpanQuery): SpanRecord[];
  /** Newest log records first. */
  logs(query?: LogQuery): LogRecordEntry[];
}
