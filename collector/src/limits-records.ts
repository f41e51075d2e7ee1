import { prefixWithin, utf8CodePointBytes, utf8Prefix } from '@sloth/core/utf8';
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

/** Bytes of a code point inside a JSON string as `JSON.stringify` writes it (escapes included). */
function jsonBytes(codePoint: number): number {
  if (codePoint === 0x22 || codePoint === 0x5c) return 2;
  if (codePoint < 0x20) return codePoint === 0x08 || codePoint === 0x09 || codePoint === 0x0a || codePoint === 0x0c || codePoint === 0x0d ? 2 : 6;
  // A lone surrogate is escaped as \udxxx.
  if (codePoint >= 0xd800 && codePoint <= 0xdfff) return 6;
  return utf8CodePointBytes(codePoint);
}

/** Bytes of `text`'s contents in JSON, quotes left out. */
function jsonStringBytes(text: string): number {
  return Buffer.byteLength(JSON.stringify(text), 'utf8') - 2;
}

function collectStrings(value: unknown, into: string[]): void {
  if (typeof value === 'string') into.push(value);
  else if (Array.isArray(value)) for (const item of value) collectStrings(item, into);
  else if (value !== null && typeof value === 'object') for (const item of Object.values(value)) collectStrings(item, into);
}

function mapStrings(value: unknown, cut: (text: string) => string): unknown {
  if (typeof value === 'string') return cut(value);
  if (Array.isArray(value)) return value.map((item) => mapStrings(item, cut));
  if (value !== null && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, mapStrings(item, cut)]));
  return value;
}

/** An array or key/value list too large even with every string in it empty: `bytes` of JSON, at least `skeletonBytes` without its strings. */
interface Unfittable {
  readonly bytes: number;
  readonly skeletonBytes: number;
}

/**
 * An array or key/value list whose JSON (`bytes` long) is over `maxBytes`, with its strings cut so that
 * its JSON fits: every string is cut to one common length, the longest that fits, so short strings stay
 * whole and the long ones (a stack trace) lose their ends. Keys, numbers and the structure are never cut:
 * when they alone are over the limit, it is {@link Unfittable}.
 */
function fittedStructure(value: object, bytes: number, maxBytes: number): { readonly fitted: unknown } | Unfittable {
  const strings: string[] = [];
  collectStrings(value, strings);
  const sizes = strings.map(jsonStringBytes);
  const skeletonBytes = bytes - sizes.reduce((sum, size) => sum + size, 0);
  let budget = maxBytes - skeletonBytes;
  if (budget < 0) return { bytes, skeletonBytes } satisfies Unfittable;
  // The largest common cut that fits: strings shorter than their share keep it all and leave the rest to the others.
  const ascending = [...sizes].sort((a, b) => a - b);
  let cap = Number.POSITIVE_INFINITY;
  for (let i = 0; i < ascending.length; i++) {
    const share = Math.floor(budget / (ascending.length - i));
    const size = ascending[i] as number;
    if (size > share) {
      cap = share;
      break;
    }
    budget -= size;
  }
  return { fitted: mapStrings(value, (text) => (jsonStringBytes(text) > cap ? prefixWithin(text, cap, jsonBytes) : text)) };
}

/** The severity numbers OTLP defines (SEVERITY_NUMBER_UNSPECIFIED … SEVERITY_NUMBER_FATAL4). */
const maxSeverityNumber = 24;

/** Why a resource's attributes break the limits ("has …"), or undefined. Resources are refused, never cut: they are the agent's identity. */
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

/** Attributes as kept, with how many values were cut. */
interface KeptAttributes {
  readonly attributes: Readonly<Record<string, unknown>>;
  readonly truncated: number;
}

/**
 * A span's or log record's attributes within the limits, or why they cannot be (`has …`): more attributes
 * than allowed, or a key too long (keys name the data, and are not cut), or an array or key/value list
 * too large even with its strings cut. A string value over the limit is cut to it at a character
 * boundary; an array or key/value list over it has its strings cut (see {@link fittedStructure}).
 */
function limitedAttributes(attributes: Readonly<Record<string, unknown>>, limits: RecordLimitSettings): KeptAttributes | string {
  const maxBytes = limits.maxAttributeValueBytes;
  let count = 0;
  let cut: Record<string, unknown> | undefined;
  let truncated = 0;
  for (const key in attributes) {
    if (++count > limits.maxAttributesPerRecord) return `has more than ${limits.maxAttributesPerRecord} attributes`;
    const keyBytes = bytesOver(key, limits.maxNameBytes);
    if (keyBytes !== undefined) return `has an attribute key ${clipped(key)} of ${keyBytes} bytes; at most ${limits.maxNameBytes} are allowed`;
    const value = attributes[key];
    let kept: unknown;
    if (typeof value === 'string') {
      if (bytesOver(value, maxBytes) === undefined) continue;
      kept = utf8Prefix(value, maxBytes);
    } else if (value !== null && typeof value === 'object') {
      const bytes = bytesOver(JSON.stringify(value), maxBytes);
      if (bytes === undefined) continue;
      const fitted = fittedStructure(value, bytes, maxBytes);
      if (!('fitted' in fitted)) {
        return `has an attribute ${clipped(key)} of ${fitted.bytes} bytes; at most ${maxBytes} are allowed, and its keys, numbers and nesting alone take ${fitted.skeletonBytes}`;
      }
      kept = fitted.fitted;
    } else {
      continue;
    }
    (cut ??= { ...attributes })[key] = kept;
    truncated += 1;
  }
  return { attributes: cut ?? attributes, truncated };
}

/** A batch within the record limits, and how many values of its spans and log records were cut to them. */
export interface LimitedBatch {
  readonly batch: IngestBatch;
  /** Values cut, one per attribute value, span name, status message, severity text or body. */
  readonly truncated: number;
}

/**
 * `batch` within the record limits, each rejection added to `rejections`. Rejected: resources over the
 * attribute limits (with every point, span and log record of their agent), points, spans and log records
 * stamped more than the allowed skew ahead of `receivedAtMillis` (one forged time would freeze a series'
 * latest value, or sit on top of every newest-first query), spans and log records with too many
 * attributes or an attribute key too long, and severities outside OTLP's 0–24. Cut, as the OpenTelemetry
 * SDKs' attribute value length limit cuts, and kept: span and log record values over their size limit
 * (attribute values, names, status messages, severity texts, bodies), so that a long stack trace costs
 * its end, not the record. Metric attributes are never cut: they identify a series (limits-series.ts).
 */
export function withinRecordLimits(batch: IngestBatch, receivedAtMillis: number, limits: RecordLimitSettings, rejections: Rejections): LimitedBatch {
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

  const kept = new KeptRecords(rejections);
  const spans = kept.all(batch.spans, (span) => limitedSpan(span, refused(span.agentId), latestAllowed, future, limits));
  const logs = kept.all(batch.logs, (log) => limitedLog(log, refused(log.agentId), latestAllowed, future, limits));
  if (metricsRejected === 0 && spans === batch.spans && logs === batch.logs && refusedAgents === undefined) return { batch, truncated: 0 };
  return {
    batch: {
      resources: refusedAgents === undefined ? batch.resources : batch.resources.filter((r) => refused(r.agentId) === undefined),
      metrics: metricsRejected === 0 ? metrics : keptPoints(metrics, (i) => refused((metrics.series[i] as MetricSeries).agentId) === undefined && (metrics.timestamps[i] as number) <= latestAllowed),
      spans,
      logs,
    },
    truncated: kept.truncated,
  };
}

interface RecordProblem {
  readonly reason: string;
  readonly example: string;
}

/** A record as it is kept (`record` itself when nothing was cut), with how many of its values were cut. */
interface KeptRecord<T> {
  readonly record: T;
  readonly truncated: number;
}

/** The records a request keeps: rejections counted in `rejections`, cut values in `truncated`. */
class KeptRecords {
  truncated = 0;

  constructor(private readonly rejections: Rejections) {}

  /** `records` as kept; `records` itself when every one is kept as it came. */
  all<T>(records: readonly T[], limited: (record: T) => KeptRecord<T> | RecordProblem): readonly T[] {
    let out: T[] | undefined;
    for (let i = 0; i < records.length; i++) {
      const record = records[i] as T;
      const result = limited(record);
      if ('reason' in result) {
        out ??= records.slice(0, i);
        this.rejections.add(result.reason, 1, result.example);
        continue;
      }
      this.truncated += result.truncated;
      if (out === undefined && result.record !== record) out = records.slice(0, i);
      out?.push(result.record);
    }
    return out ?? records;
  }
}

/** `text` cut to `maxBytes` UTF-8 bytes, counted in `cut` when it was over. */
function cutText(text: string, maxBytes: number, cut: { count: number }): string {
  if (bytesOver(text, maxBytes) === undefined) return text;
  cut.count += 1;
  return utf8Prefix(text, maxBytes);
}

function limitedSpan(span: SpanRecord, refusedResource: string | undefined, latestAllowed: number, future: string, limits: RecordLimitSettings): KeptRecord<SpanRecord> | RecordProblem {
  if (refusedResource !== undefined) return { reason: 'attribute_limit', example: refusedResource };
  if (Math.max(span.startMillis, span.endMillis) > latestAllowed) return { reason: 'future_timestamp', example: `span ${clipped(span.name)} is ${future}` };
  const attributes = limitedAttributes(span.attributes, limits);
  if (typeof attributes === 'string') return { reason: 'attribute_limit', example: `span ${clipped(span.name)} ${attributes}` };
  // The name and status message are stored and served like attribute values: the same bound.
  const cut = { count: attributes.truncated };
  const name = cutText(span.name, limits.maxAttributeValueBytes, cut);
  const statusMessage = cutText(span.statusMessage, limits.maxAttributeValueBytes, cut);
  if (cut.count === 0) return { record: span, truncated: 0 };
  return { record: { ...span, name, statusMessage, attributes: attributes.attributes }, truncated: cut.count };
}

function limitedLog(log: LogRecordEntry, refusedResource: string | undefined, latestAllowed: number, future: string, limits: RecordLimitSettings): KeptRecord<LogRecordEntry> | RecordProblem {
  if (refusedResource !== undefined) return { reason: 'attribute_limit', example: refusedResource };
  if (log.timestampMillis > latestAllowed) return { reason: 'future_timestamp', example: `a log record is ${future}` };
  if (!(Number.isInteger(log.severityNumber) && log.severityNumber >= 0 && log.severityNumber <= maxSeverityNumber)) {
    return { reason: 'invalid_severity', example: `a log record has severity_number ${log.severityNumber}; OTLP defines 0 to ${maxSeverityNumber}` };
  }
  const attributes = limitedAttributes(log.attributes, limits);
  if (typeof attributes === 'string') return { reason: 'attribute_limit', example: `a log record ${attributes}` };
  const cut = { count: attributes.truncated };
  let body = log.body;
  const bodyBytes = bytesOver(body, limits.maxLogBodyBytes);
  if (bodyBytes !== undefined && log.structuredBody === true) {
    // A structured body is cut like a structured attribute value, so that what is stored is still its JSON.
    const fitted = fittedStructure(JSON.parse(body) as object, bodyBytes, limits.maxLogBodyBytes);
    if (!('fitted' in fitted)) {
      return { reason: 'body_limit', example: `a log record body is ${bodyBytes} bytes; at most ${limits.maxLogBodyBytes} are allowed, and its keys, numbers and nesting alone take ${fitted.skeletonBytes}` };
    }
    body = JSON.stringify(fitted.fitted);
    cut.count += 1;
  } else if (bodyBytes !== undefined) {
    body = cutText(body, limits.maxLogBodyBytes, cut);
  }
  const severityText = cutText(log.severityText, limits.maxAttributeValueBytes, cut);
  if (cut.count === 0) return { record: log, truncated: 0 };
  return { record: { ...log, severityText, body, attributes: attributes.attributes }, truncated: cut.count };
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
