import type { Counter, Gauge, Histogram, Meter } from '@opentelemetry/api';
import { MeterProvider } from '@opentelemetry/sdk-metrics';
import { SlothError } from '@sloth/core';

/** Attributes of a custom metric point: string, number or boolean values. */
export type MetricAttributes = Readonly<Record<string, string | number | boolean>>;

/** OTel instrument names: a letter, then letters, digits, `_ . - /`, at most 255 characters. */
const namePattern = /^[A-Za-z][A-Za-z0-9_.\-/]{0,254}$/;

/** Most distinct custom instruments one agent creates; guards against a playbook creating names in a loop. */
const maxInstruments = 1000;
/** Attributes one point may carry. */
export const maxMetricAttributes = 16;
/** Attribute keys: Prometheus label names (they become labels on `/metrics`), not reserved (`__…`, `le`, `quantile`). */
const attributeKeyPattern = /^[A-Za-z_][A-Za-z0-9_]{0,127}$/;
/** Longest string attribute value, in UTF-8 bytes. */
export const maxMetricAttributeValueBytes = 256;
/** Attribute sets (series) one metric name may have; further new sets are refused, existing ones keep working. */
export const maxSeriesPerMetric = 100;
/** Series of all custom metrics together: what every export carries (the collector refuses a body over 4 MiB). */
export const maxCustomSeries = 2000;

function attributesKey(attrs: MetricAttributes | undefined): string {
  if (attrs === undefined) return '';
  return JSON.stringify(Object.keys(attrs).sort().map((k) => [k, attrs[k]]));
}

/**
 * Custom metrics recorded in-process (by the Lua `metrics` module, by tasks)
 * and exported with the rest of the agent's telemetry. OTel SDK instruments
 * underneath; `latest()` answers from a local copy of the last value per
 * series, so a playbook can read what it (or another) recorded.
 */
export class CustomMetrics {
  private readonly gauges = new Map<string, Gauge>();
  private readonly counters = new Map<string, Counter>();
  private readonly histograms = new Map<string, Histogram>();
  private readonly kinds = new Map<string, 'gauge' | 'counter' | 'histogram'>();
  private readonly values = new Map<string, Map<string, number>>();

  /** @param meter the agent's meter; defaults to a private provider with no reader (values kept for `latest()` only). */
  constructor(private readonly meter: Meter = new MeterProvider().getMeter('sloth-agent-custom')) {}

  /** Series of all names together (bounded by {@link maxCustomSeries}). */
  private seriesCount = 0;

  /** Sets a gauge to `value`. */
  gauge(name: string, value: number, attrs?: MetricAttributes): void {
    this.check(name, 'gauge', value, attrs);
    let instrument = this.gauges.get(name);
    if (instrument === undefined) {
      instrument = this.meter.createGauge(name, { description: 'custom gauge' });
      this.gauges.set(name, instrument);
    }
    instrument.record(value, attrs);
    this.remember(name, attrs, value);
  }

  /** Adds `delta` (≥ 0) to a monotonic counter; `latest()` returns the running total. */
  counter(name: string, delta: number, attrs?: MetricAttributes): void {
    this.check(name, 'counter', delta, attrs);
    if (delta < 0) throw new SlothError('SLOTH_ERR_INPUT', `counter ${name} can only go up; got delta ${delta}`, { details: { name, delta } });
    let instrument = this.counters.get(name);
    if (instrument === undefined) {
      instrument = this.meter.createCounter(name, { description: 'custom counter' });
      this.counters.set(name, instrument);
    }
    instrument.add(delta, attrs);
    const previous = this.values.get(name)?.get(attributesKey(attrs)) ?? 0;
    this.remember(name, attrs, previous + delta);
  }

  /** Records one observation into a histogram; `latest()` returns the last observation. */
  histogram(name: string, value: number, attrs?: MetricAttributes): void {
    this.check(name, 'histogram', value, attrs);
    let instrument = this.histograms.get(name);
    if (instrument === undefined) {
      instrument = this.meter.createHistogram(name, { description: 'custom histogram' });
      this.histograms.set(name, instrument);
    }
    instrument.record(value, attrs);
    this.remember(name, attrs, value);
  }

  /** The last value recorded for this name and exact attribute set, or `undefined`. */
  latest(name: string, attrs?: MetricAttributes): number | undefined {
    return this.values.get(name)?.get(attributesKey(attrs));
  }

  /** Names recorded so far with their kind. */
  names(): Array<{ name: string; kind: 'gauge' | 'counter' | 'histogram' }> {
    return [...this.kinds].map(([name, kind]) => ({ name, kind }));
  }

  /**
   * Everything is checked before anything is created: a refused point leaves no instrument,
   * name or series behind. Attribute sets are bounded because every series is kept (here
   * and in the SDK) for the life of the agent and sent with every export.
   */
  private check(name: string, kind: 'gauge' | 'counter' | 'histogram', value: number, attrs: MetricAttributes | undefined): void {
    if (!namePattern.test(name)) {
      throw new SlothError('SLOTH_ERR_INPUT', `invalid metric name ${JSON.stringify(name)}: use a letter then letters, digits, "_", ".", "-" or "/"`, {
        details: { name },
      });
    }
    if (typeof value !== 'number' || !Number.isFinite(value)) {
      throw new SlothError('SLOTH_ERR_INPUT', `metric ${name} needs a finite number, got ${String(value)}`, { details: { name } });
    }
    const existing = this.kinds.get(name);
    if (existing !== undefined && existing !== kind) {
      throw new SlothError('SLOTH_ERR_INPUT', `metric ${name} is a ${existing}; it cannot also be used as a ${kind}`, { details: { name, kind: existing } });
    }
    checkAttributes(name, attrs);
    if (existing === undefined && this.kinds.size >= maxInstruments) {
      throw new SlothError('SLOTH_ERR_INPUT', `too many custom metric names (limit ${maxInstruments}); ${name} was not created`, { details: { name } });
    }
    const series = this.values.get(name);
    if (series === undefined || !series.has(attributesKey(attrs))) {
      if ((series?.size ?? 0) >= maxSeriesPerMetric) {
        throw new SlothError(
          'SLOTH_ERR_INPUT',
          `metric ${name} already has ${maxSeriesPerMetric} attribute sets (limit ${maxSeriesPerMetric}); the new set ${attributesKey(attrs)} was refused. Use fewer distinct attribute values (no ids or timestamps); existing sets keep working`,
          { details: { name, limit: maxSeriesPerMetric } },
        );
      }
      if (this.seriesCount >= maxCustomSeries) {
        throw new SlothError('SLOTH_ERR_INPUT', `too many custom metric series (limit ${maxCustomSeries} for all names); the new set ${attributesKey(attrs)} of ${name} was refused`, {
          details: { name, limit: maxCustomSeries },
        });
      }
    }
    if (existing === undefined) this.kinds.set(name, kind);
  }

  private remember(name: string, attrs: MetricAttributes | undefined, value: number): void {
    let series = this.values.get(name);
    if (series === undefined) {
      series = new Map();
      this.values.set(name, series);
    }
    const key = attributesKey(attrs);
    if (!series.has(key)) this.seriesCount += 1;
    series.set(key, value);
  }
}

function checkAttributes(name: string, attrs: MetricAttributes | undefined): void {
  if (attrs === undefined) return;
  const keys = Object.keys(attrs);
  if (keys.length > maxMetricAttributes) {
    throw new SlothError('SLOTH_ERR_INPUT', `metric ${name} has ${keys.length} attributes (limit ${maxMetricAttributes})`, { details: { name, limit: maxMetricAttributes } });
  }
  for (const key of keys) {
    if (!attributeKeyPattern.test(key) || key.startsWith('__') || key === 'le' || key === 'quantile') {
      throw new SlothError(
        'SLOTH_ERR_INPUT',
        `metric ${name}: invalid attribute name ${JSON.stringify(key.length > 64 ? `${key.slice(0, 64)}…` : key)}: use a letter or "_" then letters, digits or "_" (at most 128; not starting with "__", not "le" or "quantile"), as a Prometheus label name`,
        { details: { name, attribute: key.slice(0, 128) } },
      );
    }
    const value = attrs[key];
    if (typeof value === 'string' && Buffer.byteLength(value, 'utf8') > maxMetricAttributeValueBytes) {
      throw new SlothError(
        'SLOTH_ERR_INPUT',
        `metric ${name}: attribute ${key} is ${Buffer.byteLength(value, 'utf8')} bytes long (limit ${maxMetricAttributeValueBytes}); use a short value, not an id, path or message`,
        { details: { name, attribute: key, limit: maxMetricAttributeValueBytes } },
      );
    }
    if (typeof value !== 'string' && typeof value !== 'number' && typeof value !== 'boolean') {
      throw new SlothError('SLOTH_ERR_INPUT', `metric ${name}: attribute ${key} must be a string, number or boolean`, { details: { name, attribute: key } });
    }
  }
}
