import type { Labels, MetricKind } from '@sloth/core';
import type { IngestBatch, LogRecordEntry, MetricPoint, ResourceInfo, SpanRecord } from '../records.js';
import type { AgentRecord, AgentState } from './store-types.js';

/**
 * Messages between {@link StoreWriter} (main thread) and its worker. Points
 * travel column-wise (keys plus typed arrays) so posting a batch costs far
 * less than structured-cloning thousands of point objects; the labels and
 * other metadata of a series are sent once, when the main thread first sees it.
 */

export interface SeriesDefinition {
  readonly key: string;
  readonly name: string;
  readonly labels: Labels;
  readonly agentId: string;
  readonly kind: MetricKind;
  readonly unit: string;
  readonly description: string;
  readonly monotonic: boolean;
}

export interface HistogramPart {
  /** Index of the point in the batch. */
  readonly index: number;
  readonly count?: number;
  readonly sum?: number;
  readonly bounds?: readonly number[];
  readonly bucketCounts?: readonly number[];
}

export interface PackedBatch {
  readonly resources: readonly ResourceInfo[];
  readonly keys: string[];
  readonly timestamps: Float64Array;
  /** NaN where the point has no value. */
  readonly values: Float64Array;
  readonly histograms: HistogramPart[];
  readonly spans: readonly SpanRecord[];
  readonly logs: readonly LogRecordEntry[];
}

export interface WorkerOptions {
  readonly dataDir: string;
  readonly retentionMillis: number;
  readonly pruneIntervalMillis?: number;
  readonly cacheMb?: number;
  /** Level of the writer thread's own log lines (JSON on stdout, like the collector's). @defaultValue `silent` */
  readonly logLevel?: string;
}

export type ToWorker =
  | { readonly type: 'write'; readonly id: number; readonly checkpoint: number; readonly series: readonly SeriesDefinition[]; readonly batches: readonly PackedBatch[] }
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
  | { readonly type: 'warn'; readonly message: string };

const histogramKinds = new Set<MetricKind>(['histogram', 'exponential_histogram', 'summary']);

/** Packs one batch on the main thread; `isKnown`/`define` let the caller send each series definition once. */
export function packBatch(batch: IngestBatch, isKnown: (point: MetricPoint) => boolean, define: (point: MetricPoint) => void): PackedBatch {
  const n = batch.metrics.length;
  const keys = new Array<string>(n);
  const timestamps = new Float64Array(n);
  const values = new Float64Array(n);
  const histograms: HistogramPart[] = [];
  for (let i = 0; i < n; i += 1) {
    const point = batch.metrics[i] as MetricPoint;
    if (!isKnown(point)) define(point);
    keys[i] = point.seriesKey;
    timestamps[i] = point.timestampMillis;
    values[i] = point.value ?? Number.NaN;
    if (point.bucketCounts !== undefined || histogramKinds.has(point.kind)) {
      histograms.push({
        index: i,
        ...(point.count === undefined ? {} : { count: point.count }),
        ...(point.sum === undefined ? {} : { sum: point.sum }),
        ...(point.bounds === undefined ? {} : { bounds: point.bounds }),
        ...(point.bucketCounts === undefined ? {} : { bucketCounts: point.bucketCounts }),
      });
    }
  }
  return { resources: batch.resources, keys, timestamps, values, histograms, spans: batch.spans, logs: batch.logs };
}

export function seriesDefinition(point: MetricPoint): SeriesDefinition {
  return {
    key: point.seriesKey,
    name: point.name,
    labels: point.labels,
    agentId: point.agentId,
    kind: point.kind,
    unit: point.unit,
    description: point.description,
    monotonic: point.monotonic,
  };
}
