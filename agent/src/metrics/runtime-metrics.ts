import type { BatchObservableResult, Histogram, Meter } from '@opentelemetry/api';
import { monitorEventLoopDelay, PerformanceObserver, type IntervalHistogram } from 'node:perf_hooks';
import v8 from 'node:v8';
import { metricCatalogue as m, otelInstrument } from '@sloth/core';

const gcKinds: Readonly<Record<number, string>> = { 1: 'minor', 2: 'major', 4: 'incremental', 8: 'weakcb', 15: 'all' };

/**
 * The agent's own runtime: event-loop delay (`nodejs.eventloop.delay.*`, seconds,
 * reset every collection), V8 heap (`v8js.memory.heap.used|limit`), GC time
 * (`v8js.gc.duration` histogram), process CPU (`process.cpu.time{cpu.mode}`,
 * `process.cpu.utilization`) and RSS (`process.memory.usage`).
 */
export class RuntimeMetrics {
  private delay: IntervalHistogram | undefined;
  private gcObserver: PerformanceObserver | undefined;
  private lastCpu = process.cpuUsage();
  private lastCpuAtMillis = performance.now();

  register(meter: Meter): void {
    this.delay = monitorEventLoopDelay({ resolution: 20 });
    this.delay.enable();
    const gcDuration: Histogram = meter.createHistogram(otelInstrument(m.v8jsGcDuration).name, {
      ...otelInstrument(m.v8jsGcDuration).options,
      advice: { explicitBucketBoundaries: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1] },
    });
    this.gcObserver = new PerformanceObserver((list) => {
      for (const entry of list.getEntries()) {
        const kind = (entry as unknown as { detail?: { kind?: number } }).detail?.kind ?? 0;
        gcDuration.record(entry.duration / 1000, { 'v8js.gc.type': gcKinds[kind] ?? 'other' });
      }
    });
    this.gcObserver.observe({ entryTypes: ['gc'] });

    const delayMean = meter.createObservableGauge(otelInstrument(m.nodejsEventloopDelayMean).name, otelInstrument(m.nodejsEventloopDelayMean).options);
    const delayP99 = meter.createObservableGauge(otelInstrument(m.nodejsEventloopDelayP99).name, otelInstrument(m.nodejsEventloopDelayP99).options);
    const delayMax = meter.createObservableGauge(otelInstrument(m.nodejsEventloopDelayMax).name, otelInstrument(m.nodejsEventloopDelayMax).options);
    const heapUsed = meter.createObservableUpDownCounter(otelInstrument(m.v8jsMemoryHeapUsed).name, otelInstrument(m.v8jsMemoryHeapUsed).options);
    const heapLimit = meter.createObservableUpDownCounter(otelInstrument(m.v8jsMemoryHeapLimit).name, otelInstrument(m.v8jsMemoryHeapLimit).options);
    const cpuTime = meter.createObservableCounter(otelInstrument(m.processCpuTime).name, otelInstrument(m.processCpuTime).options);
    const cpuUtil = meter.createObservableGauge(otelInstrument(m.processCpuUtilization).name, otelInstrument(m.processCpuUtilization).options);
    const rss = meter.createObservableUpDownCounter(otelInstrument(m.processMemoryUsage).name, otelInstrument(m.processMemoryUsage).options);

    meter.addBatchObservableCallback(
      (r: BatchObservableResult) => {
        const d = this.delay;
        if (d !== undefined && d.count > 0) {
          r.observe(delayMean, d.mean / 1e9);
          r.observe(delayP99, d.percentile(99) / 1e9);
          r.observe(delayMax, d.max / 1e9);
          d.reset();
        }
        const heap = v8.getHeapStatistics();
        r.observe(heapUsed, heap.used_heap_size);
        r.observe(heapLimit, heap.total_heap_size);
        const cpu = process.cpuUsage();
        r.observe(cpuTime, cpu.user / 1e6, { 'cpu.mode': 'user' });
        r.observe(cpuTime, cpu.system / 1e6, { 'cpu.mode': 'system' });
        const now = performance.now();
        const wallMicros = (now - this.lastCpuAtMillis) * 1000;
        if (wallMicros > 0) {
          const used = cpu.user - this.lastCpu.user + (cpu.system - this.lastCpu.system);
          r.observe(cpuUtil, used / wallMicros);
        }
        this.lastCpu = cpu;
        this.lastCpuAtMillis = now;
        r.observe(rss, process.memoryUsage.rss());
      },
      [delayMean, delayP99, delayMax, heapUsed, heapLimit, cpuTime, cpuUtil, rss],
    );
  }

  shutdown(): void {
    this.delay?.disable();
    this.gcObserver?.disconnect();
  }
}
