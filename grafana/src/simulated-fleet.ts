import { metricCatalogue as m, type MetricSpec } from '@sloth/core';

/**
 * Host metrics of a simulated agent, as a real agent exports them (OTLP/HTTP
 * JSON): a 4-core VM with 2 filesystems, 2 disks and 2 interfaces, plus the
 * agent's export metrics — 49 series per agent. The query-budget test and
 * benchmark push a fleet of these to a real collector.
 */

type Attr = Readonly<Record<string, string>>;
interface Point {
  readonly attrs: Attr;
  readonly value: number;
}

/** Series one simulated agent sends. */
export const simulatedSeriesPerAgent = 49;

function kv(attrs: Attr): Array<{ key: string; value: { stringValue: string } }> {
  return Object.entries(attrs).map(([key, value]) => ({ key, value: { stringValue: value } }));
}

function metric(spec: MetricSpec, points: readonly Point[], nowNanos: string, startNanos: string): Record<string, unknown> {
  if (spec.otelName === undefined) throw new Error(`${spec.name} is not an OpenTelemetry metric an agent sends`);
  const dataPoints = points.map((p) => ({ attributes: kv(p.attrs), timeUnixNano: nowNanos, startTimeUnixNano: startNanos, asDouble: p.value }));
  const base = { name: spec.otelName, unit: spec.unit, description: spec.help };
  if (spec.type === 'counter') return { ...base, sum: { dataPoints, aggregationTemporality: 2, isMonotonic: true } };
  return { ...base, gauge: { dataPoints } };
}

/** Ids of `count` simulated agents: `sim-000`, `sim-001`, … */
export function simulatedAgentIds(count: number): string[] {
  return Array.from({ length: count }, (_, i) => `sim-${String(i).padStart(3, '0')}`);
}

/** One export of one simulated agent at its `tick`-th interval, values that move; `startNanos` is the counters' start time. */
export function simulatedExport(agent: string, tick: number, startNanos: string, nowMillis = Date.now()): string {
  const now = `${BigInt(Math.round(nowMillis)) * 1_000_000n}`;
  const wave = (phase: number): number => 0.5 + 0.4 * Math.sin(tick / 10 + phase);
  const cores = [0, 1, 2, 3].map((c) => ({ attrs: { cpu: String(c) }, value: wave(c) }));
  const fs = [
    { device: '/dev/sda1', mountpoint: '/', type: 'ext4' },
    { device: '/dev/sdb1', mountpoint: '/data', type: 'ext4' },
  ];
  const disks = ['sda', 'sdb'];
  const nics = ['eth0', 'lo'];
  const dir = (attrs: Attr, total: number): Point[] => [
    { attrs: { ...attrs, direction: 'receive' }, value: total },
    { attrs: { ...attrs, direction: 'transmit' }, value: total / 2 },
  ];
  const rw = (attrs: Attr, total: number): Point[] => [
    { attrs: { ...attrs, direction: 'read' }, value: total },
    { attrs: { ...attrs, direction: 'write' }, value: total / 3 },
  ];
  const metrics = [
    metric(m.systemCpuUtilization, [{ attrs: {}, value: wave(0) }, ...cores], now, startNanos),
    metric(m.systemCpuLoadAverage1m, [{ attrs: {}, value: 4 * wave(1) }], now, startNanos),
    metric(m.systemCpuLoadAverage5m, [{ attrs: {}, value: 4 * wave(2) }], now, startNanos),
    metric(m.systemCpuLoadAverage15m, [{ attrs: {}, value: 4 * wave(3) }], now, startNanos),
    metric(m.systemMemoryUsage, ['used', 'free', 'buffers', 'cached'].map((state, i) => ({ attrs: { state }, value: 1e9 * (i + 1) })), now, startNanos),
    metric(m.systemMemoryUtilization, [{ attrs: { state: 'used' }, value: wave(4) }], now, startNanos),
    metric(m.systemMemoryLimit, [{ attrs: {}, value: 8e9 }], now, startNanos),
    metric(m.systemPagingUtilization, [{ attrs: { state: 'used' }, value: 0.1 }], now, startNanos),
    metric(m.systemFilesystemUtilization, fs.map((attrs, i) => ({ attrs, value: wave(5 + i) })), now, startNanos),
    metric(m.systemFilesystemUsage, fs.flatMap((attrs) => ['used', 'free'].map((state) => ({ attrs: { ...attrs, state }, value: 5e10 }))), now, startNanos),
    metric(m.systemDiskIo, disks.flatMap((device) => rw({ device }, 4096 * tick)), now, startNanos),
    metric(m.systemDiskOperations, disks.flatMap((device) => rw({ device }, tick)), now, startNanos),
    metric(m.systemNetworkIo, nics.flatMap((device) => dir({ device }, 1500 * tick)), now, startNanos),
    metric(m.systemNetworkPackets, nics.flatMap((device) => dir({ device }, 10 * tick)), now, startNanos),
    metric(m.systemNetworkErrors, nics.flatMap((device) => dir({ device }, Math.floor(tick / 7))), now, startNanos),
    metric(m.systemNetworkDropped, nics.flatMap((device) => dir({ device }, Math.floor(tick / 11))), now, startNanos),
    metric(m.systemProcessCount, [{ attrs: {}, value: 200 }], now, startNanos),
    metric(m.systemUptime, [{ attrs: {}, value: 1000 + tick * 2 }], now, startNanos),
    metric(m.agentExportSent, [{ attrs: {}, value: tick }], now, startNanos),
    metric(m.agentExportQueueSize, [{ attrs: {}, value: 0 }], now, startNanos),
  ];
  return JSON.stringify({
    resourceMetrics: [{ resource: { attributes: kv({ 'service.instance.id': agent, 'host.name': agent }) }, scopeMetrics: [{ scope: { name: 'sloth-agent' }, metrics }] }],
  });
}
