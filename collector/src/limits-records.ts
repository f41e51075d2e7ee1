import { clipped, type Rejections } from './otlp-normalise.js';
import type { HistogramValue, IngestBatch, LogRecordEntry, MetricColumns, MetricSeries, SpanRecord } from './records.js';

/**
 * The limits on what spans, log records and resources carry (docs/security.md): without them a
 * small gzip body became tens of megabytes stored and served by every query that met it.
 */
export interface RecordLimitSettings {
  /** Attributes one span, log record or resource may carry. */
  readonly maxAttributesPerRecord: number;
  /** Longest attribute value, UTF-8 bytes (arrays and key/value lists as JSON). */
  readonly maxAttributeValueBytes: number;
  /** Longest attribute key, UTF-8 bytes (the limit on metric names and label keys). */
  readonly maxNameBytes: number;
  /** Longest log record body, UTF-8 bytes (a structured body as JSON). */
  readonly maxLogBodyBytes: number;
  /** How far past its arrival a record's time may be. */
  readonly maxFutureSkewMillis: number;
}

/** The UTF-8 length of `text` when it is over `maxBytes`, else undefined. */
export function bytesOver(text: string, maxBytes: number): number | undefined {
  // Three bytes per UTF-16 unit at most: only long strings need counting.
  if (text.length * 3 <= maxBytes) return undefined;
  const bytes = Buffer.byteLength(text, 'utf8');
  return bytes > maxBytes ? bytes : undefined;
}

/** The severity numbers OTLP defines (SEVERITY_NUMBER_UNSPECIFIED … SEVERITY_NUMBER_FATAL4). */
const maxSeverityNumber = 24;

/** Why a span's, log record's or resource's attributes break the limits ("has …"), or undefined. */
export function attributeViolation(attributes: Readonly<Record<string, unknown>>, limits: RecordLimitSettings): string | undefined {
  let count = 0;
  for (const key in attributes) {
    if (++count > limits.maxAttributesPerRecord) return `has more than ${limits.maxAttributesPerRecord} attributes`;
    const keyBytes = bytesOver(key, limits.maxNameBytes);
    if (keyBytes !== undefined) return `has an attribute key ${clipped(key)} of ${keyBytes} bytes; at most ${limits.maxNameBytes} are allowed`;
    const value = attributes[key];
    // Arrays and key/value lists count as the JSON they are stored as.
    const text = typeof value === 'string' ? value : value !== null && typeof value === 'object' ? JSON.stringify(value) : '';
    const valueBytes = bytesOver(text, limits.maxAttributeValueBytes);
    if (valueBytes !== undefined) return `has an attribute ${clipped(key)} of ${valueBytes} bytes; at most ${limits.maxAttributeValueBytes} are allowed`;
  }
  return undefined;
}

/**
 * `batch` without what breaks the record limits, each rejection added to `rejections`: resources
 * over the attribute limits (with every point, span and log record of their agent), points, spans
 * and log records stamped more than the allowed skew ahead of `receivedAtMillis` (one forged time
 * would freeze a series' latest value, or sit on top of every newest-first query), spans and log
 * records over the attribute limits, log bodies over their limit and severities outside OTLP's 0–24.
 */
export function withinRecordLimits(batch: IngestBatch, receivedAtMillis: number, limits: RecordLimitSettings, rejections: Rejections): IngestBatch {
  const latestAllowed = receivedAtMillis + limits.maxFutureSkewMillis;
  const future = `more than ${Math.round(limits.maxFutureSkewMillis / 1000)} s ahead of the collector's clock (${new Date(receivedAtMillis).toISOString()})`;
  let refusedAgents: Map<string, string> | undefined;
  for (const resource of batch.resources) {
    const violation = attributeViolation(resource.attributes, limits);
    if (violation !== undefined) (refusedAgents ??= new Map()).set(resource.agentId, `the resource of agent ${clipped(resource.agentId)} ${violation}`);
  }
  const refused = (agentId: string): string | undefined => refusedAgents?.get(agentId);

  const { metrics } = batch;
  let metricsRejected = 0;
  for (let i = 0; i < metrics.length; i++) {
    // The common case, checked first: every point of a request, and nothing to reject.
    if (refusedAgents === undefined && (metrics.timestamps[i] as number) <= latestAllowed) continue;
    const series = metrics.series[i] as MetricSeries;
    const resource = refused(series.agentId);
    if (resource !== undefined) rejections.add('attribute_limit', 1, resource);
    else if ((metrics.timestamps[i] as number) > latestAllowed) rejections.add('future_timestamp', 1, `a point of ${clipped(series.name)} is ${future}`);
    else continue;
    metricsRejected += 1;
  }

  const spans = batch.spans.filter((span) => kept(rejections, spanProblem(span, refused(span.agentId), latestAllowed, future, limits)));
  const logs = batch.logs.filter((log) => kept(rejections, logProblem(log, refused(log.agentId), latestAllowed, future, limits)));
  if (metricsRejected === 0 && spans.length === batch.spans.length && logs.length === batch.logs.length && refusedAgents === undefined) return batch;
  return {
    resources: refusedAgents === undefined ? batch.resources : batch.resources.filter((r) => refused(r.agentId) === undefined),
    metrics: metricsRejected === 0 ? metrics : keptPoints(metrics, (i) => refused((metrics.series[i] as MetricSeries).agentId) === undefined && (metrics.timestamps[i] as number) <= latestAllowed),
    spans,
    logs,
  };
}

interface RecordProblem {
  readonly reason: string;
  readonly example: string;
}

/** Whether a record has no problem; one that has is counted in `rejections`. */
function kept(rejections: Rejections, problem: RecordProblem | undefined): boolean {
  if (problem === undefined) return true;
  rejections.add(problem.reason, 1, problem.example);
  return false;
}

function spanProblem(span: SpanRecord, refusedResource: string | undefined, latestAllowed: number, future: string, limits: RecordLimitSettings): RecordProblem | undefined {
  if (refusedResource !== undefined) return { reason: 'attribute_limit', example: refusedResource };
  if (Math.max(span.startMillis, span.endMillis) > latestAllowed) return { reason: 'future_timestamp', example: `span ${clipped(span.name)} is ${future}` };
  // The name and status message are stored and served like attribute values: the same bound.
  const nameBytes = bytesOver(span.name, limits.maxAttributeValueBytes);
  if (nameBytes !== undefined) return { reason: 'attribute_limit', example: `span ${clipped(span.name)} has a name of ${nameBytes} bytes; at most ${limits.maxAttributeValueBytes} are allowed` };
  const statusBytes = bytesOver(span.statusMessage, limits.maxAttributeValueBytes);
  if (statusBytes !== undefined) return { reason: 'attribute_limit', example: `span ${clipped(span.name)} has a status message of ${statusBytes} bytes; at most ${limits.maxAttributeValueBytes} are allowed` };
  const violation = attributeViolation(span.attributes, limits);
  return violation === undefined ? undefined : { reason: 'attribute_limit', example: `span ${clipped(span.name)} ${violation}` };
}

function logProblem(log: LogRecordEntry, refusedResource: string | undefined, latestAllowed: number, future: string, limits: RecordLimitSettings): RecordProblem | undefined {
  if (refusedResource !== undefined) return { reason: 'attribute_limit', example: refusedResource };
  if (log.timestampMillis > latestAllowed) return { reason: 'future_timestamp', example: `a log record is ${future}` };
  if (!(Number.isInteger(log.severityNumber) && log.severityNumber >= 0 && log.severityNumber <= maxSeverityNumber)) {
    return { reason: 'invalid_severity', example: `a log record has severity_number ${log.severityNumber}; OTLP defines 0 to ${maxSeverityNumber}` };
  }
  const severityBytes = bytesOver(log.severityText, limits.maxAttributeValueBytes);
  if (severityBytes !== undefined) return { reason: 'attribute_limit', example: `a log record has a severity_text of ${severityBytes} bytes; at most ${limits.maxAttributeValueBytes} are allowed` };
  const bodyBytes = bytesOver(log.body, limits.maxLogBodyBytes);
  if (bodyBytes !== undefined) return { reason: 'body_limit', example: `a log record body is ${bodyBytes} bytes; at most ${limits.maxLogBodyBytes} are allowed` };
  const violation = attributeViolation(log.attributes, limits);
  return violation === undefined ? undefined : { reason: 'attribute_limit', example: `a log record ${violation}` };
}

/** The points of `columns` for which `keep(i)` holds. */
function keptPoints(columns: MetricColumns, keep: (i: number) => boolean): MetricColumns {
  const series: MetricSeries[] = [];
  const timestamps: number[] = [];
  const values: number[] = [];
  const histograms = new Map<number, HistogramValue>();
  for (let i = 0; i < columns.length; i++) {
    if (!keep(i)) continue;
    const histogram = columns.histograms.get(i);
    if (histogram !== undefined) histograms.set(series.length, histogram);
    series.push(columns.series[i] as MetricSeries);
    timestamps.push(columns.timestamps[i] as number);
    values.push(columns.values[i] as number);
  }
  return { length: series.length, series, timestamps: Float64Array.from(timestamps), values: Float64Array.from(values), histograms };
}
