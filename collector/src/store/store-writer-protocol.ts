import type { HistogramValue, IngestBatch, LogRecordEntry, MetricSeries, ResourceInfo, SpanRecord } from '../records.js';
import type { AgentRecord, AgentState } from './store-types.js';

/**
 * Messages between {@link StoreWriter} (main thread) and its worker. Points
 * travel column-wise: a series number per point plus typed arrays, so
 * posting a batch is a few memory copies instead of a structured clone of
 * thousands of objects. A series' key, labels and metadata are sent once,
 * with the first write that uses its number.
 */

/** A series and the number the points of later writes refer to it by. */
export interface SeriesDefinition {
  readonly ref: number;
  readonly series: MetricSeries;
}

export interface PackedBatch {
  readonly resources: readonly ResourceInfo[];
  /** The series number of every point. */
  readonly refs: Int32Array;
  readonly timestamps: Float64Array;
  /** NaN where the point has no value. */
  readonly values: Float64Array;
  readonly histograms: ReadonlyMap<number, HistogramValue>;
  readonly spans: readonly SpanRecord[];
  readonly logs: readonly LogRecordEntry[];
}

export interface WorkerOptions {
  readonly dataDir: string;
  /** The in-memory head: commit it once it holds this many points… */
  readonly headMaxPoints: number;
  /** …or its oldest write has waited this long. */
  readonly headMaxMillis: number;
  readonly retentionMillis: number;
  readonly pruneIntervalMillis?: number;
  readonly cacheMb?: number;
  /** Level of the writer thread's own log lines (JSON on stdout, like the collector's). @defaultValue `silent` */
  readonly logLevel?: string;
}

export type ToWorker =
  | { readonly type: 'write' | 'append'; readonly id: number; readonly checkpoint: number; readonly series: readonly SeriesDefinition[]; readonly batches: readonly PackedBatch[] }
  | { readonly type: 'flush'; readonly id: number }
  | { readonly type: 'putAgents'; readonly agents: readonly AgentRecord[] }
  | { readonly type: 'setAgentState'; readonly agentId: string; readonly state: AgentState }
  | { readonly type: 'prune'; readonly id: number; readonly cutoffMillis: number }
  | { readonly type: 'close' };

export type FromWorker =
  | { readonly type: 'ready' }
  | { readonly type: 'opened-failed'; readonly message: string }
  | { readonly type: 'done'; readonly id: number; readonly result?: unknown }
  | { readonly type: 'failed'; readonly id: number; readonly message: string }
  | { readonly type: 'removed'; readonly keys: readonly string[] }
  /** The head was committed up to this checkpoint (sent before the `done` of the write or flush that committed it). */
  | { readonly type: 'committed'; readonly checkpoint: number }
  | { readonly type: 'warn'; readonly message: string }
  | { readonly type: 'error'; readonly message: string };

/**
 * Packs one batch on the main thread; `refOf` gives each point's series
 * number (defining the series on first use).
 */
export function packBatch(batch: IngestBatch, refOf: (series: MetricSeries) => number): PackedBatch {
  const { metrics } = batch;
  const refs = new Int32Array(metrics.length);
  let last: MetricSeries | undefined;
  let lastRef = 0;
  for (let i = 0; i < metrics.length; i += 1) {
    const series = metrics.series[i] as MetricSeries;
    if (series !== last) {
      last = series;
      lastRef = refOf(series);
    }
    refs[i] = lastRef;
  }
  return { resources: batch.resources, refs, timestamps: metrics.timestamps, values: metrics.values, histograms: metrics.histograms, spans: batch.spans, logs: batch.logs };
}

/** The worker's side of {@link packBatch}: `seriesOf` maps numbers back to the series objects it was sent. */
export function unpackBatch(batch: PackedBatch, seriesOf: (ref: number) => MetricSeries): IngestBatch {
  const n = batch.refs.length;
  const series = new Array<MetricSeries>(n);
  let lastRef = -1;
  let last: MetricSeries | undefined;
  for (let i = 0; i < n; i += 1) {
    const ref = batch.refs[i] as number;
    if (ref !== lastRef) {
      lastRef = ref;
      last = seriesOf(ref);
    }
    series[i] = last as MetricSeries;
  }
  return {
    resources: batch.resources,
    metrics: { length: n, series, timestamps: batch.timestamps, values: batch.values, histograms: batch.histograms },
    spans: batch.spans,
    logs: batch.logs,
  };
}
