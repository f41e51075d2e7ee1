import type { MetricKind } from '@sloth/core';
import { seriesId } from '@sloth/core';
import { SeriesCache, type SeriesTrieNode, type StringInterner } from './series-cache.js';
import { emptyMetricColumns, type HistogramValue, type IngestBatch, type LogRecordEntry, type MetricSeries, type ResourceInfo, type SpanRecord } from './records.js';
import type {
  AnyValueMessage,
  HistogramDataPointMessage,
  Int64,
  KeyValueMessage,
  LogsRequestMessage,
  MetricsRequestMessage,
  NumberDataPointMessage,
  TracesRequestMessage,
} from './otlp-root.js';

/**
 * Turns decoded OTLP requests (protobuf or JSON, both as generated message
 * objects) into the collector's normalised records, counting what it has to
 * reject and why.
 */

/** Decides whether a point of a series may be stored (the per-agent cardinality limit). */
export type SeriesAdmission = (series: MetricSeries) => boolean;

/**
 * What normalising metrics needs from the collector it runs in: its series
 * objects (which carry that collector's scratch state, so each collector
 * has its own cache) and its admission rule.
 */
export interface SeriesContext {
  readonly cache: SeriesCache;
  readonly admit: SeriesAdmission;
}

export interface NormaliseResult {
  readonly batch: IngestBatch;
  /** Points, spans or log records accepted. */
  readonly accepted: number;
  readonly rejected: number;
  readonly rejectedByReason: Readonly<Record<string, number>>;
  /** A short human message for partial_success.error_message ('' when nothing was rejected). */
  readonly errorMessage: string;
  /** Values of accepted spans and log records cut to the size limits (see limits-records.ts); absent: none. */
  readonly truncated?: number;
}

/** Counts of what a request had rejected, with one example per reason (for `partial_success`); the fast path uses it too. */
export class Rejections {
  total = 0;
  readonly byReason: Record<string, number> = {};
  /** One `reason: example` for each of the first three reasons. */
  readonly examples: string[] = [];

  add(reason: string, count: number, example: string): void {
    if (count <= 0) return;
    this.total += count;
    this.byReason[reason] = (this.byReason[reason] ?? 0) + count;
    if (this.examples.length < 3 && !this.examples.some((e) => e.startsWith(`${reason}:`))) this.examples.push(`${reason}: ${example}`);
  }

  message(): string {
    if (this.total === 0) return '';
    return `${this.total} rejected (${Object.entries(this.byReason).map(([r, n]) => `${r}=${n}`).join(', ')}); ${this.examples.join('; ')}`;
  }
}

/** Longest piece of client text (a name, a key) quoted in an error message. */
const maxQuotedChars = 64;

/** `text`, cut to its first 64 characters and `…` when longer: an error message must not echo megabytes back. */
export function clipped(text: string): string {
  return text.length <= maxQuotedChars ? text : `${text.slice(0, maxQuotedChars)}…`;
}

/** Longest metric description kept: it is the HELP line of `/metrics` and stored with every series. */
export const maxDescriptionChars = 1024;

/** A metric's description as kept: cut past {@link maxDescriptionChars} (it explains, it identifies nothing). */
export function keptDescription(text: string): string {
  return text.length <= maxDescriptionChars ? text : `${text.slice(0, maxDescriptionChars)}…`;
}

const twoTo32 = 4294967296;

/** int64 (number, decimal string or Long) → number; NaN when absent or malformed. */
export function int64ToNumber(value: Int64): number {
  if (value === null || value === undefined) return Number.NaN;
  if (typeof value === 'number') return value;
  if (typeof value === 'string') return value.trim() === '' ? Number.NaN : Number(value);
  return value.high * twoTo32 + (value.low >>> 0);
}

/** Unix nanoseconds → milliseconds; NaN when absent, zero or out of range. */
export function nanosToMillis(value: Int64): number {
  const nanos = int64ToNumber(value);
  if (!(nanos > 0)) return Number.NaN;
  // Nanoseconds since 1970 exceed 2^53, so `nanos` is off by up to ~256 ns and a plain floor
  // would put one whole-millisecond timestamp in eight 1 ms early. Adding 1 µs before flooring
  // keeps whole milliseconds exact; a sub-millisecond part within 1 µs of the next millisecond
  // rounds up to it, which is far below the precision anything downstream uses.
  const millis = Math.floor(nanos / 1e6 + 1e-3);
  return Number.isSafeInteger(millis) ? millis : Number.NaN;
}

function bytesToHex(bytes: Uint8Array | null | undefined): string {
  if (bytes === null || bytes === undefined || bytes.length === 0) return '';
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}

/** An attribute value as a plain JS value. */
export function anyValueToJs(value: AnyValueMessage | null | undefined): unknown {
  if (value === null || value === undefined) return null;
  if (value.stringValue !== null && value.stringValue !== undefined) return value.stringValue;
  if (value.boolValue !== null && value.boolValue !== undefined) return value.boolValue;
  if (value.intValue !== null && value.intValue !== undefined) return int64ToNumber(value.intValue);
  if (value.doubleValue !== null && value.doubleValue !== undefined) return value.doubleValue;
  if (value.arrayValue !== null && value.arrayValue !== undefined) return (value.arrayValue.values ?? []).map(anyValueToJs);
  if (value.kvlistValue !== null && value.kvlistValue !== undefined) return attributesToObject(value.kvlistValue.values);
  if (value.bytesValue !== null && value.bytesValue !== undefined) return Buffer.from(value.bytesValue).toString('base64');
  return null;
}

/** The label text of small non-negative integers, made once: integer attributes (a CPU, a slot) are mostly small. */
const smallIntegerText = Array.from({ length: 1024 }, (_, i) => String(i));

function integerText(value: number): string {
  return Number.isInteger(value) && value >= 0 && value < smallIntegerText.length ? (smallIntegerText[value] as string) : String(value);
}

/** An attribute value as a label string. */
export function anyValueToString(value: AnyValueMessage | null | undefined): string {
  if (value === null || value === undefined) return '';
  if (value.stringValue !== null && value.stringValue !== undefined) return value.stringValue;
  if (value.boolValue !== null && value.boolValue !== undefined) return value.boolValue ? 'true' : 'false';
  if (value.intValue !== null && value.intValue !== undefined) return integerText(int64ToNumber(value.intValue));
  if (value.doubleValue !== null && value.doubleValue !== undefined) return String(value.doubleValue);
  const js = anyValueToJs(value);
  return js === null ? '' : JSON.stringify(js);
}

/**
 * Sets `target[key]` as its own property: a plain assignment to `__proto__` would change the object's prototype
 * (a map value) or do nothing (a string), dropping an attribute a client sent.
 */
function setOwn<T>(target: Record<string, T>, key: string, value: T): void {
  if (key === '__proto__') Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
  else target[key] = value;
}

export function attributesToObject(attributes: readonly KeyValueMessage[] | null | undefined): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (attributes === null || attributes === undefined) return out;
  for (const kv of attributes) {
    if (typeof kv.key === 'string' && kv.key !== '') setOwn(out, kv.key, anyValueToJs(kv.value));
  }
  return out;
}

function attributesToLabels(attributes: readonly KeyValueMessage[] | null | undefined, target: Record<string, string>): Record<string, string> {
  if (attributes === null || attributes === undefined) return target;
  for (let i = 0; i < attributes.length; i++) {
    const kv = attributes[i] as KeyValueMessage;
    const key = kv.key;
    if (typeof key === 'string' && key !== '') setOwn(target, key, anyValueToString(kv.value));
  }
  return target;
}

/** `AGGREGATION_TEMPORALITY_DELTA` of the OTLP metrics protocol. */
const aggregationTemporalityDelta = 1;

/** What a metric gives every one of its series. */
export type MetricMeta = Pick<MetricSeries, 'name' | 'agentId' | 'kind' | 'unit' | 'description' | 'monotonic' | 'delta'>;

/**
 * The trie node of a series: the metric's root, then one step per attribute. Undefined when the series is not
 * to be remembered (a key or value too long to keep: the size limits reject its points).
 */
export function seriesNode(cache: SeriesCache, root: SeriesTrieNode, attributes: readonly KeyValueMessage[] | null | undefined): SeriesTrieNode | undefined {
  let node = root;
  if (attributes === null || attributes === undefined) return node;
  for (let i = 0; i < attributes.length; i++) {
    const kv = attributes[i] as KeyValueMessage;
    const value = kv.value;
    const key = kv.key ?? '';
    const text = value !== null && value !== undefined && typeof value.stringValue === 'string' ? value.stringValue : anyValueToString(value);
    if (!cache.keeps(key) || !cache.keeps(text)) return undefined;
    node = SeriesCache.step(node, key, text);
  }
  return node;
}

/** The series object at `node` (made on a miss), or a fresh one that nothing keeps when there is no node. */
export function seriesAt(cache: SeriesCache, node: SeriesTrieNode | undefined, meta: MetricMeta, attributes: readonly KeyValueMessage[] | null | undefined): MetricSeries {
  if (node === undefined) return newSeries(undefined, meta, attributes);
  return cache.series(node, () => newSeries(cache.strings, meta, attributes));
}

/** The series of a point with these attributes under a metric's root ({@link seriesNode}, then {@link seriesAt}). */
export function seriesFor(cache: SeriesCache, root: SeriesTrieNode, meta: MetricMeta, attributes: readonly KeyValueMessage[] | null | undefined): MetricSeries {
  return seriesAt(cache, seriesNode(cache, root, attributes), meta, attributes);
}

/** A series object; its strings are interned only when it is to be remembered. */
function newSeries(strings: StringInterner | undefined, meta: MetricMeta, attributes: readonly KeyValueMessage[] | null | undefined): MetricSeries {
  // One literal with every field, scratch fields included, rather than a spread of
  // `strings.series(...)`: with the spread, ingest took ~25 % more CPU per point at
  // 75,000 points/s (4.6 against 3.7 µs), most likely because `admitted` and
  // `storeRef`, read for every point, no longer sat inside the object.
  const intern = (text: string): string => (strings === undefined ? text : strings.intern(text));
  const attributeLabels = attributesToLabels(attributes, {});
  const labels = strings === undefined ? attributeLabels : strings.labels(attributeLabels);
  labels.agent = intern(meta.agentId);
  return {
    key: seriesId(meta.name, labels),
    labels,
    name: intern(meta.name),
    agentId: labels.agent,
    kind: meta.kind,
    unit: intern(meta.unit),
    description: intern(meta.description),
    monotonic: meta.monotonic,
    delta: meta.delta === true,
    admitted: false,
    storeRef: 0,
    latest: undefined,
  };
}

/**
 * Why the points of a metric are refused before anything is made for them: its name, unit or agent id is too
 * long for the series cache to keep, so longer than a size limit allows (`label_limit`). Shared by every point
 * of the metric, such a string is never looked at point by point: a body of one megabyte name and a million
 * points would cost a million times its length.
 */
export function oversizedMetric(cache: SeriesCache, agentId: string, name: string, unit: string): string | undefined {
  if (!cache.keeps(name)) return `metric name ${clipped(name)} is ${name.length} characters long, past the size limits`;
  if (!cache.keeps(unit)) return `${clipped(name)} has a unit ${unit.length} characters long, past the size limits`;
  if (!cache.keeps(agentId)) return `agent id ${clipped(agentId)} is ${agentId.length} characters long, past the size limits`;
  return undefined;
}

/**
 * What is wrong with a histogram point's sum, explicit bounds (finite, strictly increasing) and bucket counts
 * (finite, not negative, one more than the bounds or none), or undefined. Stored as they came, such values
 * make every quantile derived from the point non-finite, and the exposition invalid.
 */
function histogramProblem(sum: number | undefined, bounds: readonly number[], bucketCounts: readonly number[] | undefined): string | undefined {
  if (sum !== undefined && !Number.isFinite(sum)) return `has a sum that is not finite (${sum})`;
  if (bucketCounts === undefined) return undefined;
  for (let i = 0; i < bounds.length; i++) {
    const bound = bounds[i] as number;
    if (!Number.isFinite(bound)) return `has an explicit bound that is not finite (${bound})`;
    if (i > 0 && !(bound > (bounds[i - 1] as number))) return `has explicit bounds that do not increase (${bounds[i - 1]}, then ${bound})`;
  }
  if (bucketCounts.length !== 0 && bucketCounts.length !== bounds.length + 1) return `has ${bucketCounts.length} bucket counts for ${bounds.length} explicit bounds; it needs ${bounds.length + 1}`;
  for (const bucketCount of bucketCounts) {
    if (!(Number.isFinite(bucketCount) && bucketCount >= 0)) return `has a bucket count that is not a finite count (${bucketCount})`;
  }
  return undefined;
}

export function resourceInfo(attributes: readonly KeyValueMessage[] | null | undefined, principal: string): ResourceInfo {
  const labels = attributesToLabels(attributes, {});
  const agentId = labels['service.instance.id'] || labels['host.name'] || 'unknown';
  return { agentId, principal, attributes: labels };
}

const noSpans: readonly SpanRecord[] = [];
const noLogs: readonly LogRecordEntry[] = [];

/** Points in a request, before validation: sizes the columns once. */
function countPoints(request: MetricsRequestMessage): number {
  let n = 0;
  for (const rm of request.resourceMetrics ?? []) {
    for (const sm of rm.scopeMetrics ?? []) {
      for (const metric of sm.metrics ?? []) {
        const points = metric.gauge?.dataPoints ?? metric.sum?.dataPoints ?? metric.histogram?.dataPoints ?? metric.exponentialHistogram?.dataPoints ?? metric.summary?.dataPoints;
        n += points?.length ?? 0;
      }
    }
  }
  return n;
}

export function normaliseMetrics(request: MetricsRequestMessage, principal: string, context: SeriesContext): NormaliseResult {
  const { cache, admit } = context;
  const resources: ResourceInfo[] = [];
  const capacity = countPoints(request);
  const series: MetricSeries[] = [];
  const timestamps = new Float64Array(capacity);
  const values = new Float64Array(capacity);
  let histograms: Map<number, HistogramValue> | undefined;
  let n = 0;
  const rejections = new Rejections();
  for (const rm of request.resourceMetrics ?? []) {
    const resource = resourceInfo(rm.resource?.attributes, principal);
    resources.push(resource);
    const agentId = resource.agentId;
    for (const sm of rm.scopeMetrics ?? []) {
      for (const metric of sm.metrics ?? []) {
        const name = metric.name ?? '';
        let kind: MetricKind;
        let monotonic = false;
        let delta = false;
        let numberPoints: readonly NumberDataPointMessage[] | undefined;
        let histogramPoints: readonly HistogramDataPointMessage[] | undefined;
        if (metric.gauge) {
          kind = 'gauge';
          numberPoints = metric.gauge.dataPoints ?? [];
        } else if (metric.sum) {
          kind = 'sum';
          monotonic = metric.sum.isMonotonic === true;
          delta = metric.sum.aggregationTemporality === aggregationTemporalityDelta;
          numberPoints = metric.sum.dataPoints ?? [];
        } else if (metric.histogram) {
          kind = 'histogram';
          delta = metric.histogram.aggregationTemporality === aggregationTemporalityDelta;
          histogramPoints = metric.histogram.dataPoints ?? [];
        } else if (metric.exponentialHistogram) {
          kind = 'exponential_histogram';
          histogramPoints = metric.exponentialHistogram.dataPoints ?? [];
        } else if (metric.summary) {
          kind = 'summary';
          histogramPoints = metric.summary.dataPoints ?? [];
        } else {
          continue;
        }
        const pointCount = (numberPoints ?? histogramPoints ?? []).length;
        if (name === '') {
          rejections.add('invalid_name', pointCount, 'metric with an empty name');
          continue;
        }
        const meta: MetricMeta = { name, agentId, kind, unit: metric.unit ?? '', description: keptDescription(metric.description ?? ''), monotonic, delta };
        const oversized = oversizedMetric(cache, agentId, name, meta.unit);
        if (oversized !== undefined) {
          rejections.add('label_limit', pointCount, oversized);
          continue;
        }
        const root = cache.forMetric(agentId, name, kind, meta.unit);
        if (numberPoints !== undefined) {
          for (let i = 0; i < numberPoints.length; i++) {
            const p = numberPoints[i] as NumberDataPointMessage;
            const timestampMillis = nanosToMillis(p.timeUnixNano);
            if (Number.isNaN(timestampMillis)) {
              rejections.add('invalid_timestamp', 1, `${clipped(name)} has a missing or invalid time_unix_nano`);
              continue;
            }
            const value = p.asDouble !== null && p.asDouble !== undefined ? p.asDouble : int64ToNumber(p.asInt);
            if (!Number.isFinite(value)) {
              rejections.add('invalid_value', 1, `${clipped(name)} has no finite value`);
              continue;
            }
            const s = seriesFor(cache, root, meta, p.attributes);
            if (!admit(s)) {
              rejections.add('cardinality', 1, `agent ${clipped(agentId)} reached its series limit, so new series like ${clipped(name)} were dropped`);
              continue;
            }
            series.push(s);
            timestamps[n] = timestampMillis;
            values[n] = value;
            n += 1;
          }
        } else if (histogramPoints !== undefined) {
          for (const p of histogramPoints) {
            const timestampMillis = nanosToMillis(p.timeUnixNano);
            if (Number.isNaN(timestampMillis)) {
              rejections.add('invalid_timestamp', 1, `${clipped(name)} has a missing or invalid time_unix_nano`);
              continue;
            }
            const count = int64ToNumber(p.count);
            const sum = typeof p.sum === 'number' ? p.sum : undefined;
            const bounds = p.explicitBounds ?? [];
            const bucketCounts = kind === 'histogram' ? (p.bucketCounts ?? []).map(int64ToNumber) : undefined;
            const problem = histogramProblem(sum, bounds, bucketCounts);
            if (problem !== undefined) {
              rejections.add('invalid_value', 1, `${clipped(name)} ${problem}`);
              continue;
            }
            const s = seriesFor(cache, root, meta, p.attributes);
            if (!admit(s)) {
              rejections.add('cardinality', 1, `agent ${clipped(agentId)} reached its series limit, so new series like ${clipped(name)} were dropped`);
              continue;
            }
            const histogram: HistogramValue = {
              count: Number.isFinite(count) ? count : 0,
              ...(sum === undefined ? {} : { sum }),
              ...(bucketCounts === undefined ? {} : { bounds, bucketCounts }),
            };
            (histograms ??= new Map()).set(n, histogram);
            series.push(s);
            timestamps[n] = timestampMillis;
            values[n] = Number.NaN;
            n += 1;
          }
        }
      }
    }
  }
  const metrics =
    n === 0
      ? emptyMetricColumns
      : { length: n, series, timestamps: n === capacity ? timestamps : timestamps.slice(0, n), values: n === capacity ? values : values.slice(0, n), histograms: histograms ?? emptyMetricColumns.histograms };
  return {
    batch: { resources, metrics, spans: noSpans, logs: noLogs },
    accepted: n,
    rejected: rejections.total,
    rejectedByReason: rejections.byReason,
    errorMessage: rejections.message(),
  };
}

export function normaliseTraces(request: TracesRequestMessage, principal: string): NormaliseResult {
  const resources: ResourceInfo[] = [];
  const spans: SpanRecord[] = [];
  const rejections = new Rejections();
  for (const rs of request.resourceSpans ?? []) {
    const resource = resourceInfo(rs.resource?.attributes, principal);
    resources.push(resource);
    const serviceName = resource.attributes['service.name'] ?? '';
    for (const ss of rs.scopeSpans ?? []) {
      for (const span of ss.spans ?? []) {
        const traceId = bytesToHex(span.traceId);
        const spanId = bytesToHex(span.spanId);
        if (traceId.length !== 32 || spanId.length !== 16) {
          rejections.add('invalid_id', 1, 'span trace_id must be 16 bytes and span_id 8 bytes');
          continue;
        }
        const name = span.name ?? '';
        if (name === '') {
          rejections.add('invalid_name', 1, `span ${spanId} has an empty name`);
          continue;
        }
        const startMillis = nanosToMillis(span.startTimeUnixNano);
        const endMillis = nanosToMillis(span.endTimeUnixNano);
        if (Number.isNaN(startMillis) || Number.isNaN(endMillis)) {
          rejections.add('invalid_timestamp', 1, `span ${clipped(name)} has a missing or invalid start/end time`);
          continue;
        }
        spans.push({
          traceId,
          spanId,
          parentSpanId: bytesToHex(span.parentSpanId),
          name,
          kind: span.kind ?? 0,
          agentId: resource.agentId,
          serviceName,
          startMillis,
          endMillis,
          statusCode: span.status?.code ?? 0,
          statusMessage: span.status?.message ?? '',
          attributes: attributesToObject(span.attributes),
        });
      }
    }
  }
  return {
    batch: { resources, metrics: emptyMetricColumns, spans, logs: noLogs },
    accepted: spans.length,
    rejected: rejections.total,
    rejectedByReason: rejections.byReason,
    errorMessage: rejections.message(),
  };
}

export function normaliseLogs(request: LogsRequestMessage, principal: string, receivedAtMillis: number): NormaliseResult {
  const resources: ResourceInfo[] = [];
  const logs: LogRecordEntry[] = [];
  const rejections = new Rejections();
  for (const rl of request.resourceLogs ?? []) {
    const resource = resourceInfo(rl.resource?.attributes, principal);
    resources.push(resource);
    const serviceName = resource.attributes['service.name'] ?? '';
    for (const sl of rl.scopeLogs ?? []) {
      for (const record of sl.logRecords ?? []) {
        let timestampMillis = nanosToMillis(record.timeUnixNano);
        if (Number.isNaN(timestampMillis)) timestampMillis = nanosToMillis(record.observedTimeUnixNano);
        // The log data model lets both times be absent: use the time of receipt.
        if (Number.isNaN(timestampMillis)) {
          const raw = int64ToNumber(record.timeUnixNano);
          if (Number.isFinite(raw) && raw < 0) {
            rejections.add('invalid_timestamp', 1, 'log record with a negative time_unix_nano');
            continue;
          }
          timestampMillis = receivedAtMillis;
        }
        const body = anyValueToJs(record.body);
        logs.push({
          timestampMillis,
          agentId: resource.agentId,
          serviceName,
          severityNumber: record.severityNumber ?? 0,
          severityText: record.severityText ?? '',
          body: body === null ? '' : typeof body === 'string' ? body : JSON.stringify(body),
          ...(body !== null && typeof body === 'object' ? { structuredBody: true } : {}),
          traceId: bytesToHex(record.traceId),
          spanId: bytesToHex(record.spanId),
          attributes: attributesToObject(record.attributes),
        });
      }
    }
  }
  return {
    batch: { resources, metrics: emptyMetricColumns, spans: noSpans, logs },
    accepted: logs.length,
    rejected: rejections.total,
    rejectedByReason: rejections.byReason,
    errorMessage: rejections.message(),
  };
}

