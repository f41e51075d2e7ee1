/**
 * The collector's own metrics in Prometheus text format. Small on purpose:
 * a handful of counters, gauges and one histogram, rendered by hand.
 */

const durationBoundsSeconds = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

function escapeLabel(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
}

function formatNumber(value: number): string {
  if (Number.isNaN(value)) return 'NaN';
  if (value === Infinity) return '+Inf';
  if (value === -Infinity) return '-Inf';
  return String(value);
}

class LabelledCounter {
  readonly values = new Map<string, number>();
  constructor(
    readonly name: string,
    readonly help: string,
    readonly label: string,
  ) {}

  add(labelValue: string, amount: number): void {
    if (amount === 0) return;
    this.values.set(labelValue, (this.values.get(labelValue) ?? 0) + amount);
  }

  get(labelValue: string): number {
    return this.values.get(labelValue) ?? 0;
  }

  render(lines: string[]): void {
    lines.push(`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} counter`);
    for (const [value, count] of this.values) lines.push(`${this.name}{${this.label}="${escapeLabel(value)}"} ${formatNumber(count)}`);
  }
}

class DurationHistogram {
  private readonly buckets = new Array<number>(durationBoundsSeconds.length).fill(0);
  private count = 0;
  private sum = 0;
  constructor(
    readonly name: string,
    readonly help: string,
  ) {}

  observe(seconds: number): void {
    this.count += 1;
    this.sum += seconds;
    for (let i = 0; i < durationBoundsSeconds.length; i++) {
      if (seconds <= (durationBoundsSeconds[i] as number)) {
        this.buckets[i] = (this.buckets[i] as number) + 1;
        break;
      }
    }
  }

  render(lines: string[]): void {
    lines.push(`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} histogram`);
    let cumulative = 0;
    for (let i = 0; i < durationBoundsSeconds.length; i++) {
      cumulative += this.buckets[i] as number;
      lines.push(`${this.name}_bucket{le="${formatNumber(durationBoundsSeconds[i] as number)}"} ${cumulative}`);
    }
    lines.push(`${this.name}_bucket{le="+Inf"} ${this.count}`, `${this.name}_sum ${formatNumber(this.sum)}`, `${this.name}_count ${this.count}`);
  }
}

export interface SelfMetricsGauges {
  queueDepth(): number;
  activeSeries(): number;
  streamBuffered?(): number;
}

export class SelfMetrics {
  readonly pointsReceived = new LabelledCounter('sloth_collector_points_received_total', 'Data points, spans and log records accepted, by signal.', 'signal');
  readonly pointsRejected = new LabelledCounter('sloth_collector_points_rejected_total', 'Data points, spans and log records rejected, by reason.', 'reason');
  readonly requests = new LabelledCounter('sloth_collector_requests_total', 'OTLP/HTTP requests answered, by status code.', 'code');
  readonly requestDuration = new DurationHistogram('sloth_collector_request_duration_seconds', 'Time from receiving an OTLP/HTTP request to answering it.');
  private streamDropped = 0;
  private streamPublished = 0;
  private readonly gauges: SelfMetricsGauges;

  constructor(gauges: SelfMetricsGauges) {
    this.gauges = gauges;
  }

  addStreamDropped(count: number): void {
    this.streamDropped += count;
  }

  addStreamPublished(count: number): void {
    this.streamPublished += count;
  }

  render(): string {
    const lines: string[] = [];
    const memory = process.memoryUsage();
    this.pointsReceived.render(lines);
    this.pointsRejected.render(lines);
    this.requests.render(lines);
    this.requestDuration.render(lines);
    lines.push(
      '# HELP sloth_collector_queue_depth Accepted data points durable in the write-ahead log but not yet in the store.',
      '# TYPE sloth_collector_queue_depth gauge',
      `sloth_collector_queue_depth ${this.gauges.queueDepth()}`,
      '# HELP sloth_collector_active_series Series known to the collector (stored or admitted).',
      '# TYPE sloth_collector_active_series gauge',
      `sloth_collector_active_series ${this.gauges.activeSeries()}`,
      '# HELP process_resident_memory_bytes Resident memory of the collector process.',
      '# TYPE process_resident_memory_bytes gauge',
      `process_resident_memory_bytes ${memory.rss}`,
      '# HELP sloth_collector_heap_used_bytes V8 heap in use.',
      '# TYPE sloth_collector_heap_used_bytes gauge',
      `sloth_collector_heap_used_bytes ${memory.heapUsed}`,
      '# HELP sloth_collector_stream_buffered_samples Samples waiting to be published to the Redis samples stream.',
      '# TYPE sloth_collector_stream_buffered_samples gauge',
      `sloth_collector_stream_buffered_samples ${this.gauges.streamBuffered?.() ?? 0}`,
      '# HELP sloth_collector_stream_published_total Samples published to the Redis samples stream.',
      '# TYPE sloth_collector_stream_published_total counter',
      `sloth_collector_stream_published_total ${this.streamPublished}`,
      '# HELP sloth_collector_stream_dropped_total Samples dropped because the Redis samples stream could not keep up or was unreachable.',
      '# TYPE sloth_collector_stream_dropped_total counter',
      `sloth_collector_stream_dropped_total ${this.streamDropped}`,
    );
    return `${lines.join('\n')}\n`;
  }
}
