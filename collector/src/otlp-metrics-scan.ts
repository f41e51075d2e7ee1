import type { MetricKind } from '@sloth/core';
import { otlpSubMessage } from './decode.js';
import { emptyMetricColumns, type MetricSeries, type ResourceInfo } from './records.js';
import type { AttributeBytesIndex } from './series-cache.js';
import { clipped, keptDescription, nanosToMillis, oversizedMetric, Rejections, resourceInfo, seriesAt, seriesFor, seriesNode, type MetricMeta, type NormaliseResult, type SeriesContext } from './otlp-normalise.js';
import { otlpMessageTypes, type KeyValueMessage } from './otlp-root.js';
import { Cursor, fixed64Double, hashBytes, none, notFast, twoTo32, wireFixed64, wireLength, wireVarint } from './protobuf-cursor.js';

/**
 * The fast path of metrics ingestion: reads an OTLP/protobuf
 * `ExportMetricsServiceRequest` of gauges and sums straight from the request
 * bytes into columns, without building the generated message objects (about
 * fifteen per point: the data point, its attribute array, key/values,
 * any-values and their strings, which were most of the collector's garbage).
 *
 * A point's series is found by the bytes of its attributes: per agent and
 * metric, an index maps those bytes (hashed, then compared byte for byte) to
 * the series object the attribute trie gave them the first time, so a known
 * series costs a hash of its attribute bytes and no object. Only a miss
 * decodes the attributes (with the generated code) and walks the trie, so the
 * series object is exactly the one the generic path would give.
 *
 * Anything else (histograms, summaries, a metric with more than one data
 * field, a point whose attributes are not one contiguous run, an unexpected
 * wire type, a malformed body) returns `undefined` before anything was
 * admitted, and the caller decodes the request the generic way, which also
 * words the errors. Admission (token binding, label and cardinality limits)
 * runs after the whole body was read, in point order, as the generic path does.
 */

const aggregationTemporalityDelta = 1;

/** The wire type of each field the generated decoder reads, by message (index: field number; `none`: not a field). */
const requestFields = [none, wireLength];
const resourceMetricsFields = [none, wireLength, wireLength, wireLength];
const scopeMetricsFields = resourceMetricsFields;
const metricFields = [none, wireLength, wireLength, wireLength, none, wireLength, none, wireLength, none, wireLength, wireLength, wireLength];
const gaugeFields = [none, wireLength];
const sumFields = [none, wireLength, wireVarint, wireVarint];

/** A sub-message decoded by the generated code; one it cannot read sends the request to the generic path (which words the error). */
function subMessage<T>(type: Parameters<typeof otlpSubMessage<T>>[0], buf: Uint8Array, start: number, end: number): T {
  try {
    return otlpSubMessage(type, buf, start, end);
  } catch {
    throw notFast;
  }
}

/** Columns that grow as points are read. */
class Columns {
  series: MetricSeries[] = [];
  timestamps = new Float64Array(1024);
  values = new Float64Array(1024);
  length = 0;

  push(series: MetricSeries, timestamp: number, value: number): void {
    if (this.length === this.timestamps.length) {
      const timestamps = new Float64Array(this.length * 2);
      timestamps.set(this.timestamps);
      this.timestamps = timestamps;
      const values = new Float64Array(this.length * 2);
      values.set(this.values);
      this.values = values;
    }
    this.series.push(series);
    this.timestamps[this.length] = timestamp;
    this.values[this.length] = value;
    this.length += 1;
  }
}

/**
 * Reads an OTLP/protobuf metrics request of gauges and sums, or returns
 * undefined when the request needs the generic decoder (see the module comment).
 */
export function scanMetricsRequest(bytes: Uint8Array, principal: string, context: SeriesContext): NormaliseResult | undefined {
  const buf = bytes instanceof Buffer ? new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength) : bytes;
  const scan = new Scan(buf, principal, context);
  try {
    scan.request();
  } catch (error) {
    if (error === notFast) return undefined;
    throw error;
  }
  return scan.result();
}

class Scan {
  private readonly cursor: Cursor;
  private readonly columns = new Columns();
  private readonly rejections = new Rejections();
  private readonly resources: ResourceInfo[] = [];

  constructor(
    private readonly buf: Uint8Array,
    private readonly principal: string,
    private readonly context: SeriesContext,
  ) {
    this.cursor = new Cursor(buf);
  }

  request(): void {
    const c = this.cursor;
    const end = this.buf.length;
    while (c.pos < end) {
      const tag = c.varint32(end);
      if (tag === ((1 << 3) | wireLength)) {
        const fieldEnd = c.lengthEnd(end);
        this.resourceMetrics(c.pos, fieldEnd);
        c.pos = fieldEnd;
      } else {
        c.skipOther(tag, end, requestFields);
      }
    }
  }

  /** ResourceMetrics: its resource first (wherever it sits), then its scopes. */
  private resourceMetrics(start: number, end: number): void {
    const c = this.cursor;
    let resourceStart = -1;
    let resourceEnd = -1;
    c.pos = start;
    while (c.pos < end) {
      const tag = c.varint32(end);
      if (tag >>> 3 === 1) {
        if ((tag & 7) !== wireLength) throw notFast;
        resourceEnd = c.lengthEnd(end);
        resourceStart = c.pos;
        c.pos = resourceEnd;
      } else {
        c.skipOther(tag, end, resourceMetricsFields);
      }
    }
    const resourceMessage = resourceStart < 0 ? undefined : subMessage(otlpMessageTypes.resource, this.buf, resourceStart, resourceEnd);
    const resource = resourceInfo(resourceMessage?.attributes, this.principal);
    this.resources.push(resource);
    c.pos = start;
    while (c.pos < end) {
      const tag = c.varint32(end);
      if (tag >>> 3 === 2) {
        if ((tag & 7) !== wireLength) throw notFast;
        const fieldEnd = c.lengthEnd(end);
        this.scopeMetrics(resource.agentId, c.pos, fieldEnd);
        c.pos = fieldEnd;
      } else {
        c.skipOther(tag, end, resourceMetricsFields);
      }
    }
  }

  private scopeMetrics(agentId: string, start: number, end: number): void {
    const c = this.cursor;
    c.pos = start;
    while (c.pos < end) {
      const tag = c.varint32(end);
      if (tag >>> 3 === 2) {
        if ((tag & 7) !== wireLength) throw notFast;
        const fieldEnd = c.lengthEnd(end);
        this.metric(agentId, c.pos, fieldEnd);
        c.pos = fieldEnd;
      } else if (tag === ((1 << 3) | wireLength)) {
        // The scope is not used, but a damaged one makes the request malformed, as the generic decoder finds.
        const fieldEnd = c.lengthEnd(end);
        subMessage(otlpMessageTypes.scope, this.buf, c.pos, fieldEnd);
        c.pos = fieldEnd;
      } else {
        c.skipOther(tag, end, scopeMetricsFields);
      }
    }
  }

  /** Metric: name, unit and description, then the one gauge or sum it must hold. */
  private metric(agentId: string, start: number, end: number): void {
    const c = this.cursor;
    let name = '';
    let unit = '';
    let description = '';
    let dataField = 0;
    let dataStart = 0;
    let dataEnd = 0;
    c.pos = start;
    while (c.pos < end) {
      const tag = c.varint32(end);
      const field = tag >>> 3;
      if (field === 1 || field === 2 || field === 3) {
        if ((tag & 7) !== wireLength) throw notFast;
        const text = c.string(end);
        if (field === 1) name = text;
        else if (field === 2) description = text;
        else unit = text;
      } else if (field === 5 || field === 7 || field === 9 || field === 10 || field === 11) {
        // Histograms, summaries and a metric with two data fields take the generic path.
        if (dataField !== 0 || (field !== 5 && field !== 7) || (tag & 7) !== wireLength) throw notFast;
        dataField = field;
        dataEnd = c.lengthEnd(end);
        dataStart = c.pos;
        c.pos = dataEnd;
      } else if (tag === ((12 << 3) | wireLength)) {
        // Metadata (key/values) is not stored, but a damaged entry makes the request malformed.
        const fieldEnd = c.lengthEnd(end);
        subMessage(otlpMessageTypes.keyValue, this.buf, c.pos, fieldEnd);
        c.pos = fieldEnd;
      } else {
        c.skipOther(tag, end, metricFields);
      }
    }
    if (dataField === 0) return;
    let kind: MetricKind = 'gauge';
    let monotonic = false;
    let delta = false;
    if (dataField === 7) {
      kind = 'sum';
      c.pos = dataStart;
      while (c.pos < dataEnd) {
        const tag = c.varint32(dataEnd);
        const field = tag >>> 3;
        if (field === 2 || field === 3) {
          if ((tag & 7) !== wireVarint) throw notFast;
          const value = c.varint32(dataEnd);
          if (field === 2) delta = (value | 0) === aggregationTemporalityDelta;
          else monotonic = value !== 0;
        } else {
          c.skipOther(tag, dataEnd, sumFields);
        }
      }
    }
    if (name === '') {
      // Its points are not kept, but damaged ones make the request malformed, as in the generic path.
      subMessage(dataField === 7 ? otlpMessageTypes.sum : otlpMessageTypes.gauge, this.buf, dataStart, dataEnd);
      this.rejections.add('invalid_name', this.countPoints(dataStart, dataEnd, dataField === 7 ? sumFields : gaugeFields), 'metric with an empty name');
      return;
    }
    const meta: MetricMeta = { name, agentId, kind, unit, description: keptDescription(description), monotonic, delta };
    const cache = this.context.cache;
    // Refused whole, by the generic path (which words why).
    if (oversizedMetric(cache, agentId, name, unit) !== undefined) throw notFast;
    const root = cache.forMetric(agentId, name, kind, unit);
    const index = cache.attributeIndex(root);
    c.pos = dataStart;
    while (c.pos < dataEnd) {
      const tag = c.varint32(dataEnd);
      if (tag >>> 3 === 1) {
        if ((tag & 7) !== wireLength) throw notFast;
        const pointEnd = c.lengthEnd(dataEnd);
        this.point(meta, root, index, c.pos, pointEnd);
        c.pos = pointEnd;
      } else {
        c.skipOther(tag, dataEnd, dataField === 7 ? sumFields : gaugeFields);
      }
    }
  }

  private countPoints(start: number, end: number, fields: readonly number[]): number {
    const c = this.cursor;
    let points = 0;
    c.pos = start;
    while (c.pos < end) {
      const tag = c.varint32(end);
      if (tag >>> 3 === 1) points += 1;
      c.skipOther(tag, end, fields);
    }
    return points;
  }

  /** NumberDataPoint: time, value and the run of attributes that names its series. */
  private point(meta: MetricMeta, root: Parameters<typeof seriesFor>[1], index: AttributeBytesIndex, start: number, end: number): void {
    const c = this.cursor;
    let timeNanos = 0;
    let hasTime = false;
    let doubleValue = Number.NaN;
    let hasDouble = false;
    let intValue = Number.NaN;
    let attributesStart = -1;
    let attributesEnd = -1;
    c.pos = start;
    while (c.pos < end) {
      const tagAt = c.pos;
      const tag = c.varint32(end);
      switch (tag >>> 3) {
        case 7:
          if ((tag & 7) !== wireLength) throw notFast;
          // The attributes must be one run (encoders write a repeated field together).
          if (attributesStart < 0) attributesStart = tagAt;
          else if (attributesEnd !== tagAt) throw notFast;
          attributesEnd = c.lengthEnd(end);
          c.pos = attributesEnd;
          break;
        case 3:
          if ((tag & 7) !== wireFixed64) throw notFast;
          c.fixed64Words(end);
          timeNanos = (c.high >>> 0) * twoTo32 + c.low;
          hasTime = true;
          break;
        case 4:
          if ((tag & 7) !== wireFixed64) throw notFast;
          c.fixed64Words(end);
          doubleValue = fixed64Double(c);
          hasDouble = true;
          break;
        case 6:
          if ((tag & 7) !== wireFixed64) throw notFast;
          c.fixed64Words(end);
          intValue = c.high * twoTo32 + c.low;
          break;
        case 2:
          if ((tag & 7) !== wireFixed64) throw notFast;
          c.skip(wireFixed64, end);
          break;
        case 8:
          if ((tag & 7) !== wireVarint) throw notFast;
          c.skip(wireVarint, end);
          break;
        default:
          // Exemplars (5) are decoded, and so checked, by the generic path only.
          if (tag >>> 3 === 5) throw notFast;
          c.skip(tag & 7, end);
      }
    }
    const timestampMillis = hasTime ? nanosToMillis(timeNanos) : Number.NaN;
    const value = hasDouble ? doubleValue : intValue;
    // A rejected point is still decoded whole: damage in what it carries makes the request malformed, as in the generic path.
    if (Number.isNaN(timestampMillis) || !Number.isFinite(value)) subMessage(otlpMessageTypes.numberDataPoint, this.buf, start, end);
    if (Number.isNaN(timestampMillis)) {
      this.rejections.add('invalid_timestamp', 1, `${clipped(meta.name)} has a missing or invalid time_unix_nano`);
      return;
    }
    if (!Number.isFinite(value)) {
      this.rejections.add('invalid_value', 1, `${clipped(meta.name)} has no finite value`);
      return;
    }
    let series: MetricSeries | undefined;
    const cache = this.context.cache;
    if (attributesStart < 0) {
      series = seriesFor(cache, root, meta, undefined);
    } else {
      const hash = hashBytes(this.buf, attributesStart, attributesEnd);
      series = index.find(hash, this.buf, attributesStart, attributesEnd);
      if (series === undefined) {
        const attributes = this.attributes(attributesStart, attributesEnd);
        const node = seriesNode(cache, root, attributes);
        series = seriesAt(cache, node, meta, attributes);
        // A series the cache does not keep (a string too long) is not remembered by its bytes either.
        if (node !== undefined) {
          index.remember(hash, this.buf, attributesStart, attributesEnd, series);
          cache.countAttributeBytes();
        }
      }
    }
    this.columns.push(series, timestampMillis, value);
  }

  /** The KeyValues of an attribute run, decoded by the generated code (only for a series not seen in these bytes before). */
  private attributes(start: number, end: number): KeyValueMessage[] {
    const c = this.cursor;
    const saved = c.pos;
    const attributes: KeyValueMessage[] = [];
    c.pos = start;
    while (c.pos < end) {
      c.varint32(end);
      const fieldEnd = c.lengthEnd(end);
      attributes.push(subMessage(otlpMessageTypes.keyValue, this.buf, c.pos, fieldEnd));
      c.pos = fieldEnd;
    }
    c.pos = saved;
    return attributes;
  }

  /** Admits the points read (in order, as the generic path does) and builds the result. */
  result(): NormaliseResult {
    const { series, timestamps, values, length } = this.columns;
    const admit = this.context.admit;
    // Admitted points move down in place: the columns the scan built are the batch's (views, not copies).
    let n = 0;
    for (let i = 0; i < length; i++) {
      const s = series[i] as MetricSeries;
      if (!admit(s)) {
        this.rejections.add('cardinality', 1, `agent ${clipped(s.agentId)} reached its series limit, so new series like ${clipped(s.name)} were dropped`);
        continue;
      }
      series[n] = s;
      timestamps[n] = timestamps[i] as number;
      values[n] = values[i] as number;
      n += 1;
    }
    series.length = n;
    const metrics = n === 0 ? emptyMetricColumns : { length: n, series, timestamps: timestamps.subarray(0, n), values: values.subarray(0, n), histograms: emptyMetricColumns.histograms };
    return {
      batch: { resources: this.resources, metrics, spans: [], logs: [] },
      accepted: n,
      rejected: this.rejections.total,
      rejectedByReason: this.rejections.byReason,
      errorMessage: this.rejections.message(),
    };
  }
}
