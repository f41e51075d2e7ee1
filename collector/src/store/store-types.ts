import type { Labels, MetricKind } from '@sloth/core';

/** SQLite page cache of the store's write connection, MiB, unless configured (`storeCacheMb`). */
export const defaultStoreCacheMb = 16;

/** A stored series (metric name + labels), as the query API returns it. */
export interface SeriesInfo {
  readonly key: string;
  readonly name: string;
  readonly agentId: string;
  readonly kind: MetricKind;
  readonly unit: string;
  readonly description: string;
  readonly monotonic: boolean;
  readonly labels: Labels;
}

export interface SeriesFilter {
  /** Exact metric name. */
  readonly name?: string;
  readonly agentId?: string;
  /** Every pair must match exactly. */
  readonly labels?: Labels;
  /** @defaultValue 1000 */
  readonly limit?: number;
}

export type StepAggregation = 'avg' | 'min' | 'max' | 'last';

export interface SampleQuery {
  readonly seriesKey: string;
  readonly fromMillis: number;
  /** Inclusive. */
  readonly toMillis: number;
  /** Buckets `[from + k·step, from + (k+1)·step)`, each reported at its start. */
  readonly stepMillis?: number;
  /** @defaultValue `avg` */
  readonly agg?: StepAggregation;
  /** @defaultValue 11000 */
  readonly limit?: number;
}

/** One point of a series. Histograms also carry count/sum (and buckets for raw points); `v` is then the mean. */
export interface SamplePoint {
  readonly t: number;
  readonly v: number | null;
  readonly count?: number;
  readonly sum?: number;
  readonly bounds?: readonly number[];
  readonly bucketCounts?: readonly number[];
}

export type AgentState = 'up' | 'down';

export interface AgentRecord {
  readonly id: string;
  readonly principal: string;
  readonly state: AgentState;
  readonly firstSeenMillis: number;
  readonly lastSeenMillis: number;
  readonly attributes: Labels;
}

export interface SpanQuery {
  readonly agentId?: string;
  readonly name?: string;
  readonly traceId?: string;
  readonly sinceMillis?: number;
  /** @defaultValue 100 */
  readonly limit?: number;
}

export interface LogQuery {
  readonly agentId?: string;
  readonly severityMin?: number;
  /** Substring of the body. */
  readonly contains?: string;
  readonly sinceMillis?: number;
  /** @defaultValue 100 */
  readonly limit?: number;
}

export interface PruneResult {
  readonly points: number;
  readonly series: number;
  readonly spans: number;
  readonly logs: number;
}
