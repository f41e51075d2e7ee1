import os from 'node:os';
import type { BatchObservableResult, Meter, Observable } from '@opentelemetry/api';
import { metricCatalogue as m, otelInstrument, type MetricSpec } from '@sloth/core';
import { HostSampler, type CpuSnapshot, type HostSnapshot, type MemorySnapshot } from './host-sampler.js';

/** What the Lua `metrics` module reads for CPU. */
export interface SystemCpu {
  /** Busy share of all cores in [0, 1] over the last collection interval. */
  readonly utilization: number;
  readonly perCore: readonly number[];
  readonly coreCount: number;
  /** When it was measured (epoch ms); 0 before the first collection. */
  readonly sampledAtMillis: number;
}

/** What the Lua `metrics` module reads for memory. */
export interface SystemMemory {
  readonly usedBytes: number;
  readonly availableBytes: number;
  readonly totalBytes: number;
  /** used / total in [0, 1]. */
  readonly utilization: number;
  readonly sampledAtMillis: number;
}

/** A snapshot younger than this is reused when two readers (OTLP, Prometheus) collect at once. */
const reuseMillis = 200;

/**
 * Host metrics under OpenTelemetry semantic-convention names, observed on
 * every collection from one {@link HostSampler} snapshot:
 * `system.cpu.utilization` (total, and per core with `cpu`),
 * `system.memory.usage{state}`, `system.memory.utilization`, `system.memory.limit`,
 * `system.paging.usage{state}`, `system.paging.utilization`,
 * `system.filesystem.usage{device,mountpoint,type,state}`, `system.filesystem.utilization`, `system.filesystem.limit`,
 * `system.disk.io{device,direction}`, `system.disk.operations{device,direction}`,
 * `system.network.io|packets|errors|dropped{device,direction}`,
 * `system.cpu.load_average.1m|5m|15m`, `system.process.count`, `system.uptime`.
 */
export class SystemMetrics {
  readonly sampler: HostSampler;
  private pending: Promise<HostSnapshot> | undefined;

  constructor(sampler: HostSampler = new HostSampler()) {
    this.sampler = sampler;
  }

  /** Latest CPU values (from the last collection; measured now if none happened yet). */
  systemCpu(): SystemCpu {
    const snap = this.sampler.latest();
    const cpu: CpuSnapshot = snap?.cpu ?? this.sampler.cpu();
    return { utilization: cpu.utilization, perCore: [...cpu.perCore], coreCount: cpu.coreCount, sampledAtMillis: snap?.timestampMillis ?? 0 };
  }

  /** Latest memory values (from the last collection). */
  systemMemory(): SystemMemory {
    const snap = this.sampler.latest();
    if (snap === undefined) {
      // Before the first collection: the OS's own view, good enough for a playbook.
      const { totalmem, freemem } = osMemory();
      const usedBytes = totalmem - freemem;
      return { usedBytes, availableBytes: freemem, totalBytes: totalmem, utilization: usedBytes / totalmem, sampledAtMillis: 0 };
    }
    const m: MemorySnapshot = snap.memory;
    return { usedBytes: m.usedBytes, availableBytes: m.availableBytes, totalBytes: m.totalBytes, utilization: m.utilization, sampledAtMillis: snap.timestampMillis };
  }

  /** A fresh snapshot, shared by collections that happen at the same moment. */
  async snapshot(): Promise<HostSnapshot> {
    const last = this.sampler.latest();
    if (last !== undefined && Date.now() - last.timestampMillis < reuseMillis) return last;
    this.pending ??= this.sampler.sample().finally(() => {
      this.pending = undefined;
    });
    return await this.pending;
  }

  /** Registers the observable instruments on `meter`. */
  register(meter: Meter): void {
    // Names, units and descriptions come from the catalogue, so /metrics and the dashboards agree.
    const g = (spec: MetricSpec): Observable => meter.createObservableGauge(otelInstrument(spec).name, otelInstrument(spec).options);
    const c = (spec: MetricSpec): Observable => meter.createObservableCounter(otelInstrument(spec).name, otelInstrument(spec).options);
    const ud = (spec: MetricSpec): Observable => meter.createObservableUpDownCounter(otelInstrument(spec).name, otelInstrument(spec).options);
    const cpuUtil = g(m.systemCpuUtilization);
    const memUsage = ud(m.systemMemoryUsage);
    const memUtil = g(m.systemMemoryUtilization);
    const memLimit = ud(m.systemMemoryLimit);
    const pageUsage = ud(m.systemPagingUsage);
    const pageUtil = g(m.systemPagingUtilization);
    const fsUsage = ud(m.systemFilesystemUsage);
    const fsUtil = g(m.systemFilesystemUtilization);
    const fsLimit = ud(m.systemFilesystemLimit);
    const diskIo = c(m.systemDiskIo);
    const diskOps = c(m.systemDiskOperations);
    const netIo = c(m.systemNetworkIo);
    const netPackets = c(m.systemNetworkPackets);
    const netErrors = c(m.systemNetworkErrors);
    const netDropped = c(m.systemNetworkDropped);
    const load1 = g(m.systemCpuLoadAverage1m);
    const load5 = g(m.systemCpuLoadAverage5m);
    const load15 = g(m.systemCpuLoadAverage15m);
    const procCount = ud(m.systemProcessCount);
    const uptime = g(m.systemUptime);
    const all = [cpuUtil, memUsage, memUtil, memLimit, pageUsage, pageUtil, fsUsage, fsUtil, fsLimit, diskIo, diskOps, netIo, netPackets, netErrors, netDropped, load1, load5, load15, procCount, uptime];

    meter.addBatchObservableCallback(async (r: BatchObservableResult) => {
      const s = await this.snapshot();
      r.observe(cpuUtil, s.cpu.utilization);
      s.cpu.perCore.forEach((u, i) => r.observe(cpuUtil, u, { cpu: String(i) }));
      const m = s.memory;
      r.observe(memUsage, m.usedBytes, { state: 'used' });
      r.observe(memUsage, m.freeBytes, { state: 'free' });
      r.observe(memUsage, m.buffersBytes, { state: 'buffers' });
      r.observe(memUsage, m.cachedBytes, { state: 'cached' });
      r.observe(memUtil, m.utilization, { state: 'used' });
      r.observe(memLimit, m.totalBytes);
      r.observe(pageUsage, m.swapUsedBytes, { state: 'used' });
      r.observe(pageUsage, Math.max(0, m.swapTotalBytes - m.swapUsedBytes), { state: 'free' });
      r.observe(pageUtil, m.swapTotalBytes > 0 ? m.swapUsedBytes / m.swapTotalBytes : 0, { state: 'used' });
      for (const f of s.filesystems) {
        const attrs = { device: f.device, mountpoint: f.mountpoint, type: f.type };
        r.observe(fsUsage, f.usedBytes, { ...attrs, state: 'used' });
        r.observe(fsUsage, f.freeBytes, { ...attrs, state: 'free' });
        r.observe(fsUtil, f.usedBytes + f.freeBytes > 0 ? f.usedBytes / (f.usedBytes + f.freeBytes) : 0, attrs);
        r.observe(fsLimit, f.totalBytes, attrs);
      }
      for (const d of s.disks) {
        r.observe(diskIo, d.readBytes, { device: d.device, direction: 'read' });
        r.observe(diskIo, d.writeBytes, { device: d.device, direction: 'write' });
        r.observe(diskOps, d.readOps, { device: d.device, direction: 'read' });
        r.observe(diskOps, d.writeOps, { device: d.device, direction: 'write' });
      }
      for (const n of s.networks) {
        const rx = { device: n.device, direction: 'receive' };
        const tx = { device: n.device, direction: 'transmit' };
        r.observe(netIo, n.rxBytes, rx);
        r.observe(netIo, n.txBytes, tx);
        r.observe(netPackets, n.rxPackets, rx);
        r.observe(netPackets, n.txPackets, tx);
        r.observe(netErrors, n.rxErrors, rx);
        r.observe(netErrors, n.txErrors, tx);
        r.observe(netDropped, n.rxDropped, rx);
        r.observe(netDropped, n.txDropped, tx);
      }
      r.observe(load1, s.loadAverage[0]);
      r.observe(load5, s.loadAverage[1]);
      r.observe(load15, s.loadAverage[2]);
      r.observe(procCount, s.processCount);
      r.observe(uptime, s.uptimeSeconds);
    }, all);
  }
}

function osMemory(): { totalmem: number; freemem: number } {
  return { totalmem: os.totalmem(), freemem: os.freemem() };
}
