/**
 * Replay benchmark of live incidents: synthetic host series with faults injected at known times,
 * sent as OTLP/HTTP JSON through a real collector process → Redis `sloth:samples` → the analytics
 * service (in this process), at accelerated time (10 s sample steps, sent as fast as the pipeline
 * takes them). Reports incident recall, precision, detection delay (in samples) and false incidents
 * per host-day on the faulty hosts, and incidents per host-hour on fault-free hosts.
 *
 *   npx tsc -b && node dist/bench/live/run.js [--hosts 3] [--clean-hosts 2] [--days 1] [--seed 7]
 *     [--threshold 0.68] [--drift-z 6] [--drift-confirm 2] [--no-drift] [--no-floor] [--excursion-confirm 2] [--set key=JSON ...]
 *
 * `--seed` draws the noise and where each fault falls in its slot: tune on some seeds, report on others.
 *
 * Faults (to be detected): memory leak, CPU saturation, disk fill. Benign events (a counter reset and
 * an agent restart: counters back to 0 and a burst of Sloth's own export-queue metric) must raise
 * nothing; an incident they cause counts as false.
 */
import { loadavg } from 'node:os';
import { anomalyEventSchema, decodeJsonMessage, redisKeys, sleep, type AnomalyEvent } from '@sloth/core';
import { analyticsConfigShape } from '@sloth/analytics';
import { BenchTool } from '../tool-args.js';
import { replayPrefix, rng, startReplayPipeline } from './replay-pipeline.js';

const usage = `usage: node dist/bench/live/run.js [--hosts 3] [--clean-hosts 2] [--days 1] [--seed 7]
  [--threshold 0.68] [--drift-z 6] [--drift-confirm 2] [--no-drift] [--no-floor] [--excursion-confirm 2] [--set key=JSON ...]
Replays synthetic hosts with injected faults through a real collector, Redis and the analytics service and
reports incident recall, precision, delay and false incidents (build first: npx tsc -b).
  --hosts N               hosts with faults (default 3)
  --clean-hosts N         fault-free hosts (default 2)
  --days D                replayed days at 10 s steps (default 1)
  --seed N                noise and fault placement (default 7)
  --threshold T           analytics anomalyThreshold (default: the service's, 0.68)
  --drift-z Z             analytics driftZThreshold (default: the service's, 6)
  --drift-confirm N       analytics driftConfirmSamples (default: the service's, 2)
  --no-drift              analytics driftDetection off (default on)
  --no-floor              analytics minChange {}: no floor on the size of a change (default: the service's floors)
  --excursion-confirm N   analytics excursionConfirmSamples, 0: off (default: the service's, 2)
  --set key=JSON          any analytics setting, repeatable (default: none)`;
const tool = new BenchTool('run', usage);
const args = tool.args({
  hosts: { type: 'string', default: '3' },
  'clean-hosts': { type: 'string', default: '2' },
  days: { type: 'string', default: '1' },
  seed: { type: 'string', default: '7' },
  /** analytics `anomalyThreshold`; default: the service's default. */
  threshold: { type: 'string' },
  /** analytics `driftZThreshold` / `driftConfirmSamples`; default: the service's defaults. */
  'drift-z': { type: 'string' },
  'drift-confirm': { type: 'string' },
  'no-drift': { type: 'boolean', default: false },
  /** analytics `minChange` `{}`: no floor on the size of a change (default: the service's floors). */
  'no-floor': { type: 'boolean', default: false },
  /** analytics `excursionConfirmSamples` (0: off); default: the service's default. */
  'excursion-confirm': { type: 'string' },
  /** Any analytics setting, `key=JSON` (repeatable): `--set anomalyThreshold=0.7`; an unknown key is refused. */
  set: { type: 'string', multiple: true, default: [] },
});

/** `--set key=JSON` items as analytics config flags. */
function settings(items: readonly string[]): Record<string, unknown> {
  const flags: Record<string, unknown> = {};
  for (const item of items) {
    const at = item.indexOf('=');
    if (at <= 0) tool.fail(`--set takes key=JSON (e.g. anomalyThreshold=0.7), got ${JSON.stringify(item)}`);
    // The configuration loader ignores flags it does not know: a misspelt key would silently run the defaults.
    if (!Object.hasOwn(analyticsConfigShape, item.slice(0, at))) tool.fail(`--set ${item.slice(0, at)}: unknown analytics setting; expected one of ${Object.keys(analyticsConfigShape).join(', ')}`);
    try {
      flags[item.slice(0, at)] = JSON.parse(item.slice(at + 1));
    } catch {
      tool.fail(`--set ${item.slice(0, at)}: the value must be JSON, got ${JSON.stringify(item.slice(at + 1))}`);
    }
  }
  return flags;
}
const stepMillis = 10_000;
const stepsPerDay = 86_400_000 / stepMillis;
const warmupSteps = 360; // one hour: incidents before it are not counted
const faultyHosts = tool.number('hosts', args.hosts, { min: 0, integer: true });
const cleanHosts = tool.number('clean-hosts', args['clean-hosts'], { min: 0, integer: true });
const steps = Math.round(tool.number('days', args.days, { min: 0 }) * stepsPerDay);
const setFlags = settings(args.set);
const seed = tool.number('seed', args.seed, { integer: true });
/** `--set` and the named flags as analytics config flags (checked before anything starts). */
const analyticsFlags = {
  ...(args.threshold === undefined ? {} : { anomalyThreshold: tool.number('threshold', args.threshold) }),
  ...(args['drift-z'] === undefined ? {} : { driftZThreshold: tool.number('drift-z', args['drift-z']) }),
  ...(args['drift-confirm'] === undefined ? {} : { driftConfirmSamples: tool.number('drift-confirm', args['drift-confirm']) }),
  driftDetection: !args['no-drift'],
  ...(args['no-floor'] ? { minChange: {} } : {}),
  ...(args['excursion-confirm'] === undefined ? {} : { excursionConfirmSamples: tool.number('excursion-confirm', args['excursion-confirm']) }),
  ...setFlags,
};

type FaultKind = 'memory-leak' | 'cpu-saturation' | 'disk-fill' | 'counter-reset' | 'restart';
interface Fault {
  host: string;
  kind: FaultKind;
  startStep: number;
  endStep: number;
  /** Metrics a detection may be on. */
  metrics: readonly string[];
  benign: boolean;
}

/** Faults of faulty host `h`: spread over the replay after the warm-up, in a different order per host. */
function faultsOf(host: string, h: number, seed: number): Fault[] {
  const kinds: FaultKind[] = ['memory-leak', 'cpu-saturation', 'disk-fill', 'counter-reset', 'restart'];
  const slot = Math.floor((steps - warmupSteps - 200) / kinds.length);
  const jitter = rng(seed * 7919 + h);
  return kinds.map((kind, k) => {
    // Within its slot, the fault starts at a seeded place (the slot's first half, so it ends inside it).
    const offset = Math.floor(Math.min(0.49, Math.abs(jitter()) / 6) * slot);
    const startStep = warmupSteps + 100 + ((k + h) % kinds.length) * slot + offset;
    const length = kind === 'memory-leak' ? 60 : kind === 'cpu-saturation' ? 30 : kind === 'disk-fill' ? 30 : 1;
    const metrics = kind === 'memory-leak' ? ['system.memory.usage'] : kind === 'cpu-saturation' ? ['system.cpu.utilization'] : kind === 'disk-fill' ? ['system.filesystem.usage'] : [];
    return { host, kind, startStep, endStep: startStep + length, metrics, benign: kind === 'counter-reset' || kind === 'restart' };
  });
}

/** One host's signals; `point(step)` returns the OTLP metrics of that step. */
class Host {
  private readonly noise: () => number;
  private network = 1e9;
  private disk = 4e8;
  constructor(readonly name: string, seed: number, private readonly faults: readonly Fault[]) {
    this.noise = rng(seed);
  }

  metrics(step: number): unknown[] {
    const n = this.noise;
    const day = Math.sin((2 * Math.PI * step) / stepsPerDay);
    const active = (kind: FaultKind): Fault | undefined => this.faults.find((f) => f.kind === kind && step >= f.startStep && step < f.endStep);
    let cpu = 0.08 + 0.03 * day + 0.01 * n();
    if (active('cpu-saturation') !== undefined) cpu = 0.97 + 0.01 * n();
    let memory = 2e9 + 1e8 * day + 1e7 * n();
    const leak = active('memory-leak');
    if (leak !== undefined) memory += 2e7 * (step - leak.startStep + 1);
    let filesystem = 50e9 + 1e3 * step + 1e6 * n();
    const fill = active('disk-fill');
    if (fill !== undefined) filesystem += 5e8 * (step - fill.startStep + 1);
    const restart = active('restart') !== undefined;
    if (restart || active('counter-reset') !== undefined) this.network = 0;
    if (restart) this.disk = 0;
    this.network += (stepMillis / 1000) * 1e5 * (1 + 0.1 * n());
    this.disk += (stepMillis / 1000) * 5e4 * (1 + 0.1 * n());
    const queue = restart ? 5_000 : Math.max(0, 3 + 2 * n());
    const gauge = (name: string, value: number, unit: string, attributes: Record<string, string> = {}): unknown => ({ name, unit, gauge: { dataPoints: [point(step, value, attributes)] } });
    const sum = (name: string, value: number, unit: string, monotonic: boolean, attributes: Record<string, string>): unknown => ({
      name,
      unit,
      sum: { isMonotonic: monotonic, aggregationTemporality: 2, dataPoints: [point(step, value, attributes)] },
    });
    return [
      gauge('system.cpu.utilization', Math.min(1, Math.max(0, cpu)), '1'),
      sum('system.memory.usage', memory, 'By', false, { state: 'used' }),
      sum('system.filesystem.usage', filesystem, 'By', false, { state: 'used', device: 'sda1' }),
      sum('system.network.io', this.network, 'By', true, { direction: 'transmit' }),
      sum('system.disk.io', this.disk, 'By', true, { direction: 'read' }),
      gauge('sloth.agent.export.queue.size', queue, '{record}'),
    ];
  }
}

let baseMillis = 0;
function point(step: number, value: number, attributes: Record<string, string>): unknown {
  return { timeUnixNano: `${baseMillis + step * stepMillis}000000`, asDouble: value, attributes: Object.entries(attributes).map(([key, v]) => ({ key, value: { stringValue: v } })) };
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted.length === 0 ? Number.NaN : (sorted[Math.floor((sorted.length - 1) / 2)] as number);
}

async function main(): Promise<void> {
  const pipeline = await startReplayPipeline({ dirPrefix: 'sloth-bench-live-', analyticsFlags });
  const { analytics, client, config } = pipeline;
  try {
    baseMillis = Math.floor((Date.now() - steps * stepMillis) / stepMillis) * stepMillis;
    const faults: Fault[] = [];
    const hosts: Host[] = [];
    for (let h = 0; h < faultyHosts; h += 1) {
      const own = faultsOf(`faulty-${h}`, h, seed);
      faults.push(...own);
      hosts.push(new Host(`faulty-${h}`, seed + h, own));
    }
    for (let h = 0; h < cleanHosts; h += 1) hosts.push(new Host(`clean-${h}`, seed + 100 + h, []));
    const started = Date.now();
    for (let step = 0; step < steps; step += 1) {
      const body = {
        resourceMetrics: hosts.map((host) => ({ resource: { attributes: [{ key: 'host.name', value: { stringValue: host.name } }] }, scopeMetrics: [{ metrics: host.metrics(step) }] })),
      };
      for (let attempt = 0; ; attempt += 1) {
        const response = await fetch(`${pipeline.collectorUrl}/v1/metrics`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
        await response.arrayBuffer();
        if (response.ok) break;
        if (attempt > 50) throw new Error(`collector answered HTTP ${response.status}`);
        await sleep(200);
      }
    }
    const sentMillis = Date.now() - started;
    const keys = redisKeys(replayPrefix);
    // Done when nothing is pending and the count of samples taken stood still for 3 s.
    let taken = -1;
    for (let still = 0; still < 60; ) {
      await sleep(50);
      const now = analytics.metrics.samplesScored + analytics.metrics.samplesExcluded + analytics.metrics.outOfOrderSamples;
      const pending = (await client.xpending(keys.samples, 'analytics'))[0] as number;
      still = now === taken && pending === 0 ? still + 1 : 0;
      taken = now;
    }
    const events: AnomalyEvent[] = (await client.xrange(keys.anomalies, '-', '+')).map(([, fields]) => decodeJsonMessage(fields, anomalyEventSchema));
    const opens = events.filter((e) => e.state === 'open').map((e) => ({ ...e, step: Math.round(((e.firstSeenMillis ?? e.timestampMillis) - baseMillis) / stepMillis) }));
    const counted = opens.filter((o) => o.step >= warmupSteps);
    const detections = faults.filter((f) => !f.benign).map((f) => {
      const hit = counted.filter((o) => o.agentId === f.host && o.direction === 'above' && f.metrics.includes(o.metric) && o.step >= f.startStep && o.step <= f.endStep + 10).sort((a, b) => a.step - b.step)[0];
      return { host: f.host, kind: f.kind, startStep: f.startStep, delaySamples: hit === undefined ? null : hit.step - f.startStep, score: hit === undefined ? null : Number(hit.score.toFixed(3)), direction: hit?.direction, cause: hit?.cause };
    });
    const explained = (o: (typeof counted)[number]): boolean => faults.some((f) => !f.benign && o.agentId === f.host && f.metrics.includes(o.metric) && o.step >= f.startStep && o.step <= f.endStep + 10);
    const faultyOpens = counted.filter((o) => o.agentId.startsWith('faulty-'));
    const falseOnFaulty = faultyOpens.filter((o) => !explained(o));
    const cleanOpens = counted.filter((o) => o.agentId.startsWith('clean-'));
    const measuredDays = (steps - warmupSteps) / stepsPerDay;
    const detected = detections.filter((d) => d.delaySamples !== null);
    console.log(
      JSON.stringify(
        {
          hosts: { faulty: faultyHosts, clean: cleanHosts },
          seed,
          anomalyThreshold: config.anomalyThreshold,
          drift: config.driftDetection ? { windows: config.driftWindows, zThreshold: config.driftZThreshold, confirmSamples: config.driftConfirmSamples } : 'off',
          minChange: Object.keys(config.minChange).length === 0 ? 'off' : 'default floors',
          excursionConfirmSamples: config.excursionConfirmSamples,
          settings: setFlags,
          stepSeconds: stepMillis / 1000,
          replayedHours: (steps * stepMillis) / 3_600_000,
          points: steps * hosts.length * 6,
          sendSeconds: Math.round(sentMillis / 100) / 10,
          samplesScored: analytics.metrics.samplesScored,
          samplesExcluded: analytics.metrics.samplesExcluded,
          transitions: events.length,
          recall: detected.length / detections.length,
          precision: faultyOpens.length === 0 ? 1 : (faultyOpens.length - falseOnFaulty.length) / faultyOpens.length,
          medianDelaySamples: median(detected.map((d) => d.delaySamples as number)),
          falseIncidentsPerHostDay: falseOnFaulty.length / (faultyHosts * measuredDays),
          cleanIncidentsPerHostHour: cleanOpens.length / (cleanHosts * measuredDays * 24),
          detections,
          falseIncidents: [...falseOnFaulty, ...cleanOpens].map((o) => ({ host: o.agentId, metric: o.metric, step: o.step, direction: o.direction, cause: o.cause, score: Number(o.score.toFixed(3)) })),
          loadAverage1m: loadavg()[0],
        },
        null,
        2,
      ),
    );
  } finally {
    await pipeline.stop();
  }
}

await tool.run(main);
