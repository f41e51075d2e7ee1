/**
 * Live incident calibration: how many false incidents a playbook trigger that requires an incident's
 * peak score ≥ t would see, per series-day, at the live cadence (1 s, the cadence of `faults.js` and the
 * idle target). Synthetic hosts (those of run.ts: CPU, memory used, filesystem, two counters and
 * Sloth's own queue gauge; the same noise and daily cycle, faults of the same duration in time) are
 * sent as OTLP/HTTP JSON through a real collector process → Redis `sloth:samples` → the analytics
 * service at its defaults (statistics-only detector, as run.ts: the model trains in the background and
 * would make runs differ). Every incident opened after the warm-up on a fault-free host, and on a
 * faulty host outside an injected fault (its metric, from its start to 120 s after its end: the
 * incident quiet period), is false; the benign events (a counter reset, an agent restart) are part of
 * the fault-free data.
 *
 * One seed per process, its result as JSON on stdout; `--pool` adds up such results and prints the
 * table (and the rows for analytics/src/detector/calibration.ts and agent/src/playbook/calibration.ts):
 *
 *   npx tsc -b && node dist/bench/live/calibrate.js --seed 31 [--step-seconds 1] [--days 1] [--hosts 3]
 *     [--clean-hosts 5] [--warmup-minutes 60] [--steps-per-request 10] > seed-31.json
 *   node dist/bench/live/calibrate.js --pool seed-31.json seed-32.json ...
 *
 * A rate is the one-sided 95 % Poisson upper bound of false incidents per series-day (3.0 / N for 0
 * incidents in N series-days, 4.7 / N for 1, …): never 0, and non-increasing in the score because the
 * count is. Rule and results: bench/live/calibration-rule.md.
 */
import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { anomalyEventSchema, decodeJsonMessage, redisKeys, sleep, type AnomalyEvent } from '@sloth/core';
import { BenchTool, ToolUsageError } from '../tool-args.js';
import { replayPrefix, rng, startReplayPipeline } from './replay-pipeline.js';

/** The scores tabulated: the analytics default threshold (incidents open at 0.68) and up. */
const calibrationScores = [0.68, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95, 0.99] as const;

const usage = `usage: node dist/bench/live/calibrate.js --seed N [--step-seconds 1] [--days 1] [--hosts 3] [--clean-hosts 5] [--warmup-minutes 60] [--steps-per-request 10]
       node dist/bench/live/calibrate.js --pool RESULT.json ...
Replays one seed's synthetic hosts (--hosts with faults, --clean-hosts without) through a real collector, Redis
and the analytics service and prints the false incidents by peak score as JSON (build first: npx tsc -b);
--pool adds up such results and prints the calibration table.
  --seed N                  noise and fault placement (required unless --pool)
  --step-seconds S          sample step, the live cadence (default 1)
  --days D                  replayed days (default 1)
  --hosts N                 hosts with faults (default 3)
  --clean-hosts N           fault-free hosts (default 5)
  --warmup-minutes M        incidents opened before it are not counted (default 60)
  --steps-per-request N     steps sent per OTLP request (default 10)
  --pool RESULT.json ...    pool seed results instead of running one (default off)`;
const tool = new BenchTool('calibrate', usage);
const { values, positionals } = tool.argsAndPositionals({
  seed: { type: 'string' },
  'step-seconds': { type: 'string', default: '1' },
  days: { type: 'string', default: '1' },
  hosts: { type: 'string', default: '3' },
  'clean-hosts': { type: 'string', default: '5' },
  'warmup-minutes': { type: 'string', default: '60' },
  'steps-per-request': { type: 'string', default: '10' },
  pool: { type: 'boolean', default: false },
});

type FaultKind = 'memory-leak' | 'cpu-saturation' | 'disk-fill' | 'counter-reset' | 'restart';
interface Fault {
  host: string;
  kind: FaultKind;
  startSeconds: number;
  endSeconds: number;
  /** The metric a detection is on (none for the benign events). */
  metric: string | undefined;
  benign: boolean;
}

/** After a fault ends, incidents on its metric are still its own for this long (the analytics incident quiet period). */
const faultTailSeconds = 120;

interface Replay {
  stepSeconds: number;
  steps: number;
  warmupSeconds: number;
}

/** Faults of faulty host `h`, as run.ts places them (in seconds instead of 10 s steps). */
function faultsOf(host: string, h: number, seed: number, replay: Replay): Fault[] {
  const kinds: FaultKind[] = ['memory-leak', 'cpu-saturation', 'disk-fill', 'counter-reset', 'restart'];
  const total = replay.steps * replay.stepSeconds;
  const slot = Math.floor((total - replay.warmupSeconds - 2_000) / kinds.length);
  const jitter = rng(seed * 7919 + h);
  return kinds.map((kind, k) => {
    const offset = Math.floor(Math.min(0.49, Math.abs(jitter()) / 6) * slot);
    const startSeconds = replay.warmupSeconds + 1_000 + ((k + h) % kinds.length) * slot + offset;
    const lengthSeconds = kind === 'memory-leak' ? 600 : kind === 'cpu-saturation' || kind === 'disk-fill' ? 300 : replay.stepSeconds;
    const metric = kind === 'memory-leak' ? 'system.memory.usage' : kind === 'cpu-saturation' ? 'system.cpu.utilization' : kind === 'disk-fill' ? 'system.filesystem.usage' : undefined;
    return { host, kind, startSeconds, endSeconds: startSeconds + lengthSeconds, metric, benign: metric === undefined };
  });
}

interface Point {
  name: string;
  unit: string;
  monotonic: boolean | undefined;
  attributes: Record<string, string>;
  value: number;
}

/** One host's signals at one step (run.ts's host, its rates per second kept at any step). */
class Host {
  private readonly noise: () => number;
  private network = 1e9;
  private disk = 4e8;
  constructor(
    readonly name: string,
    seed: number,
    private readonly faults: readonly Fault[],
    private readonly stepSeconds: number,
  ) {
    this.noise = rng(seed);
  }

  points(step: number): Point[] {
    const n = this.noise;
    const t = step * this.stepSeconds;
    const day = Math.sin((2 * Math.PI * t) / 86_400);
    const active = (kind: FaultKind): Fault | undefined => this.faults.find((f) => f.kind === kind && t >= f.startSeconds && t < f.endSeconds);
    let cpu = 0.08 + 0.03 * day + 0.01 * n();
    if (active('cpu-saturation') !== undefined) cpu = 0.97 + 0.01 * n();
    let memory = 2e9 + 1e8 * day + 1e7 * n();
    const leak = active('memory-leak');
    if (leak !== undefined) memory += 2e6 * (t - leak.startSeconds + this.stepSeconds);
    let filesystem = 50e9 + 100 * t + 1e6 * n();
    const fill = active('disk-fill');
    if (fill !== undefined) filesystem += 5e7 * (t - fill.startSeconds + this.stepSeconds);
    const restart = active('restart') !== undefined;
    if (restart || active('counter-reset') !== undefined) this.network = 0;
    if (restart) this.disk = 0;
    this.network += this.stepSeconds * 1e5 * (1 + 0.1 * n());
    this.disk += this.stepSeconds * 5e4 * (1 + 0.1 * n());
    const queue = restart ? 5_000 : Math.max(0, 3 + 2 * n());
    return [
      { name: 'system.cpu.utilization', unit: '1', monotonic: undefined, attributes: {}, value: Math.min(1, Math.max(0, cpu)) },
      { name: 'system.memory.usage', unit: 'By', monotonic: false, attributes: { state: 'used' }, value: memory },
      { name: 'system.filesystem.usage', unit: 'By', monotonic: false, attributes: { state: 'used', device: 'sda1' }, value: filesystem },
      { name: 'system.network.io', unit: 'By', monotonic: true, attributes: { direction: 'transmit' }, value: this.network },
      { name: 'system.disk.io', unit: 'By', monotonic: true, attributes: { direction: 'read' }, value: this.disk },
      { name: 'sloth.agent.export.queue.size', unit: '{record}', monotonic: undefined, attributes: {}, value: queue },
    ];
  }
}

/** `steps` consecutive steps of every host as one OTLP request: each metric with its points in time order. */
function otlpBody(hosts: readonly Host[], firstStep: number, steps: number, timeOf: (step: number) => number): unknown {
  return {
    resourceMetrics: hosts.map((host) => {
      const metrics = new Map<string, { name: string; unit: string; monotonic: boolean | undefined; dataPoints: unknown[] }>();
      for (let step = firstStep; step < firstStep + steps; step += 1) {
        for (const p of host.points(step)) {
          const key = `${p.name}${JSON.stringify(p.attributes)}`;
          let metric = metrics.get(key);
          if (metric === undefined) metrics.set(key, (metric = { name: p.name, unit: p.unit, monotonic: p.monotonic, dataPoints: [] }));
          metric.dataPoints.push({ timeUnixNano: `${timeOf(step)}000000`, asDouble: p.value, attributes: Object.entries(p.attributes).map(([key, v]) => ({ key, value: { stringValue: v } })) });
        }
      }
      return {
        resource: { attributes: [{ key: 'host.name', value: { stringValue: host.name } }] },
        scopeMetrics: [
          {
            metrics: [...metrics.values()].map((m) =>
              m.monotonic === undefined ? { name: m.name, unit: m.unit, gauge: { dataPoints: m.dataPoints } } : { name: m.name, unit: m.unit, sum: { isMonotonic: m.monotonic, aggregationTemporality: 2, dataPoints: m.dataPoints } },
            ),
          },
        ],
      };
    }),
  };
}

/** An incident as the calibration counts it: where, when, what it scored when it opened and at its peak. */
interface CountedIncident {
  host: string;
  metric: string;
  direction: 'above' | 'below' | undefined;
  cause: string | undefined;
  atHours: number;
  openScore: number;
  peakScore: number;
}

/** One seed's result (what `--pool` reads). */
interface SeedResult {
  kind: 'sloth-live-calibration-seed';
  seed: number;
  stepSeconds: number;
  days: number;
  warmupMinutes: number;
  stepsPerRequest: number;
  hosts: { faulty: number; clean: number };
  scoredSeriesPerHost: number;
  /** Series-days counted (after the warm-up; fault windows of the fault's own series taken out). */
  seriesDays: number;
  samplesScored: number;
  samplesSent: number;
  opensDuringWarmup: number;
  falseIncidents: CountedIncident[];
  faults: Array<{ host: string; kind: FaultKind; startHours: number; peakScore: number | null; openScore: number | null; delaySeconds: number | null }>;
  sendSeconds: number;
  wallSeconds: number;
  loadAverage1m: { start: number; end: number };
}

async function runSeed(): Promise<SeedResult> {
  const seed = tool.number('seed', values.seed, { min: 0, integer: true });
  const stepSeconds = tool.number('step-seconds', values['step-seconds'], { min: 1, integer: true });
  const days = tool.number('days', values.days, { min: 0.01 });
  const faultyHosts = tool.number('hosts', values.hosts, { min: 0, integer: true });
  const cleanHosts = tool.number('clean-hosts', values['clean-hosts'], { min: 0, integer: true });
  const warmupMinutes = tool.number('warmup-minutes', values['warmup-minutes'], { min: 0 });
  const stepsPerRequest = tool.number('steps-per-request', values['steps-per-request'], { min: 1, integer: true });
  if (faultyHosts + cleanHosts === 0) throw new ToolUsageError('--hosts and --clean-hosts are both 0: nothing to replay');
  const replay: Replay = { stepSeconds, steps: Math.round((days * 86_400) / stepSeconds), warmupSeconds: warmupMinutes * 60 };
  if (replay.warmupSeconds + 2_000 + 5 * 600 > replay.steps * stepSeconds && faultyHosts > 0) {
    throw new ToolUsageError(`--days ${days} is too short for the warm-up (${warmupMinutes} min) and five faults per faulty host: give more days or --hosts 0`);
  }
  const loadStart = loadavg()[0] as number;
  const wallStart = Date.now();
  // The analytics defaults (what `sloth up` runs).
  const pipeline = await startReplayPipeline({ dirPrefix: 'sloth-bench-calibrate-' });
  const { analytics, client } = pipeline;
  try {
    const stepMillis = stepSeconds * 1000;
    const baseMillis = Math.floor((Date.now() - replay.steps * stepMillis) / stepMillis) * stepMillis;
    const faults: Fault[] = [];
    const hosts: Host[] = [];
    for (let h = 0; h < faultyHosts; h += 1) {
      const own = faultsOf(`faulty-${h}`, h, seed, replay);
      faults.push(...own);
      hosts.push(new Host(`faulty-${h}`, seed + h, own, stepSeconds));
    }
    for (let h = 0; h < cleanHosts; h += 1) hosts.push(new Host(`clean-${h}`, seed + 100 + h, [], stepSeconds));
    const taken = (): number => analytics.metrics.samplesScored + analytics.metrics.samplesExcluded + analytics.metrics.outOfOrderSamples;
    let samplesSent = 0;
    const sendStart = Date.now();
    for (let step = 0; step < replay.steps; step += stepsPerRequest) {
      // The collector trims `sloth:samples` at ~1M samples (MAXLEN ~): a sender far ahead of analytics would lose samples unread.
      if (samplesSent - taken() > 300_000) while (samplesSent - taken() > 100_000) await sleep(20);
      const count = Math.min(stepsPerRequest, replay.steps - step);
      samplesSent += count * hosts.length * 6;
      const body = JSON.stringify(otlpBody(hosts, step, count, (s) => baseMillis + s * stepMillis));
      for (let attempt = 0; ; attempt += 1) {
        const response = await fetch(`${pipeline.collectorUrl}/v1/metrics`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
        await response.arrayBuffer();
        if (response.ok) break;
        if (attempt > 50) throw new Error(`collector answered HTTP ${response.status}`);
        await sleep(200);
      }
    }
    const sendSeconds = (Date.now() - sendStart) / 1000;
    const keys = redisKeys(replayPrefix);
    // Done when nothing is pending and the count of samples taken stood still for 3 s.
    let last = -1;
    for (let still = 0; still < 60; ) {
      await sleep(50);
      const now = taken();
      const pending = (await client.xpending(keys.samples, 'analytics'))[0] as number;
      still = now === last && pending === 0 ? still + 1 : 0;
      last = now;
    }
    // Every sample sent is taken (scored, excluded or refused as out of order) but a counter's first
    // value and its resets, which only restart its rate: anything more means the replay lost data.
    const untaken = samplesSent - taken();
    if (untaken > 2 * hosts.length + 3 * faultyHosts) throw new Error(`analytics took ${taken()} samples of the ${samplesSent} sent: the replay lost data, its counts would be wrong`);
    const events: AnomalyEvent[] = (await client.xrange(keys.anomalies, '-', '+')).map(([, fields]) => decodeJsonMessage(fields, anomalyEventSchema));
    const secondsOf = (millis: number): number => (millis - baseMillis) / 1000;
    // Incidents by id: opened when, scored what at open and at their peak (the last transition carries the peak so far).
    const incidents = new Map<string, CountedIncident & { openSeconds: number }>();
    for (const e of events) {
      const id = e.incidentId ?? `${e.seriesId}@${e.timestampMillis}`;
      const known = incidents.get(id);
      const peak = Math.max(e.score, e.peakScore ?? 0);
      if (known === undefined) {
        const openSeconds = secondsOf(e.firstSeenMillis ?? e.timestampMillis);
        incidents.set(id, { host: e.agentId, metric: e.metric, direction: e.direction, cause: e.cause, atHours: Number((openSeconds / 3600).toFixed(3)), openScore: e.score, peakScore: peak, openSeconds });
      } else known.peakScore = Math.max(known.peakScore, peak);
    }
    const all = [...incidents.values()];
    const counted = all.filter((i) => i.openSeconds >= replay.warmupSeconds);
    const explainedBy = (i: (typeof all)[number], f: Fault): boolean => !f.benign && i.host === f.host && i.metric === f.metric && i.openSeconds >= f.startSeconds && i.openSeconds <= f.endSeconds + faultTailSeconds;
    const falseIncidents = counted.filter((i) => !faults.some((f) => explainedBy(i, f)));
    const scoredSeriesPerHost = Math.round(analytics.metrics.samplesScored / (replay.steps * hosts.length));
    const measuredDays = (replay.steps * stepSeconds - replay.warmupSeconds) / 86_400;
    const faultSeriesDays = faults.filter((f) => !f.benign).reduce((sum, f) => sum + (f.endSeconds - f.startSeconds + faultTailSeconds) / 86_400, 0);
    const strip = ({ openSeconds: _openSeconds, ...rest }: CountedIncident & { openSeconds: number }): CountedIncident => ({ ...rest, openScore: Number(rest.openScore.toFixed(4)), peakScore: Number(rest.peakScore.toFixed(4)) });
    return {
      kind: 'sloth-live-calibration-seed',
      seed,
      stepSeconds,
      days,
      warmupMinutes,
      stepsPerRequest,
      hosts: { faulty: faultyHosts, clean: cleanHosts },
      scoredSeriesPerHost,
      seriesDays: Number((scoredSeriesPerHost * hosts.length * measuredDays - faultSeriesDays).toFixed(3)),
      samplesScored: analytics.metrics.samplesScored,
      samplesSent,
      opensDuringWarmup: all.length - counted.length,
      falseIncidents: falseIncidents.map(strip),
      faults: faults
        .filter((f) => !f.benign)
        .map((f) => {
          // Detected as run.ts counts it: an incident above the expected range, on the fault's metric, in its window.
          const own = all.filter((i) => explainedBy(i, f) && i.direction === 'above').sort((a, b) => a.openSeconds - b.openSeconds);
          const first = own[0];
          return {
            host: f.host,
            kind: f.kind,
            startHours: Number((f.startSeconds / 3600).toFixed(3)),
            peakScore: own.length === 0 ? null : Number(Math.max(...own.map((i) => i.peakScore)).toFixed(4)),
            openScore: first === undefined ? null : Number(first.openScore.toFixed(4)),
            delaySeconds: first === undefined ? null : first.openSeconds - f.startSeconds,
          };
        }),
      sendSeconds: Number(sendSeconds.toFixed(1)),
      wallSeconds: Number(((Date.now() - wallStart) / 1000).toFixed(1)),
      loadAverage1m: { start: Number(loadStart.toFixed(2)), end: Number((loadavg()[0] as number).toFixed(2)) },
    };
  } finally {
    await pipeline.stop();
  }
}

/** One-sided 95 % upper bound of a Poisson mean after `count` events (3.0 for 0, 4.74 for 1, 6.30 for 2, …). */
function poissonUpper95(count: number): number {
  const cdf = (lambda: number): number => {
    let term = Math.exp(-lambda);
    let sum = term;
    for (let i = 1; i <= count; i += 1) {
      term *= lambda / i;
      sum += term;
    }
    return sum;
  };
  let low = count;
  let high = count + 10 + 10 * Math.sqrt(count + 1);
  for (let i = 0; i < 200; i += 1) {
    const mid = (low + high) / 2;
    if (cdf(mid) > 0.05) low = mid;
    else high = mid;
  }
  return high;
}

/** Two significant figures, rounded up (an upper estimate stays one). */
function roundUp2(value: number): number {
  const scale = 10 ** (Math.floor(Math.log10(value)) - 1);
  // toPrecision: 79 × 0.0001 is 0.0079000000000000001 in binary.
  return Number((Math.ceil(value / scale - 1e-9) * scale).toPrecision(2));
}

function pool(files: readonly string[]): void {
  if (files.length === 0) throw new ToolUsageError('--pool needs result files');
  const seeds: SeedResult[] = files.map((file) => {
    let parsed: unknown;
    try {
      parsed = JSON.parse(readFileSync(file, 'utf8'));
    } catch (error) {
      throw new ToolUsageError(`--pool ${file}: cannot read it as JSON (${(error as Error).message})`);
    }
    if ((parsed as SeedResult | null)?.kind !== 'sloth-live-calibration-seed') throw new ToolUsageError(`--pool ${file}: not a calibrate.js seed result`);
    return parsed as SeedResult;
  });
  const steps = new Set(seeds.map((s) => s.stepSeconds));
  if (steps.size !== 1) throw new ToolUsageError(`--pool: the results mix step sizes (${[...steps].join(', ')} s); pool one cadence at a time`);
  // A host's noise is seeded by seed + h (faulty) and seed + 100 + h (clean), as in run.ts, so consecutive
  // seeds share hosts: clean-1 of seed 31 is clean-0 of seed 32, the same series to the sample. Each noise
  // stream counts once: its exposure once, and an incident seen on several copies of it once (faulty copies
  // differ only by where their faults fall, so they count once too: fewer series-days, a higher bound).
  const streamOf = (seed: number, host: string): string => {
    const [kind, index] = host.split('-') as [string, string];
    return `${kind}:${kind === 'clean' ? seed + 100 + Number(index) : seed + Number(index)}`;
  };
  const exposure = new Map<string, number>();
  for (const s of seeds) {
    const perHost = (s.scoredSeriesPerHost * (s.days * 1440 - s.warmupMinutes)) / 1440;
    const faultDaysPerFaultyHost = s.hosts.faulty === 0 ? 0 : (perHost * (s.hosts.faulty + s.hosts.clean) - s.seriesDays) / s.hosts.faulty;
    for (let h = 0; h < s.hosts.faulty; h += 1) if (!exposure.has(streamOf(s.seed, `faulty-${h}`))) exposure.set(streamOf(s.seed, `faulty-${h}`), perHost - faultDaysPerFaultyHost);
    for (let h = 0; h < s.hosts.clean; h += 1) if (!exposure.has(streamOf(s.seed, `clean-${h}`))) exposure.set(streamOf(s.seed, `clean-${h}`), perHost);
  }
  const seriesDays = [...exposure.values()].reduce((sum, d) => sum + d, 0);
  const seen = new Set<string>();
  const falseIncidents = seeds
    .flatMap((s) => s.falseIncidents.map((i) => ({ seed: s.seed, stream: streamOf(s.seed, i.host), ...i })))
    .filter((i) => {
      const key = `${i.stream}|${i.metric}|${i.direction}|${i.atHours}|${i.openScore}`;
      if (seen.has(key)) return false;
      seen.add(key);
      return true;
    });
  const faults = seeds.flatMap((s) => s.faults);
  const rows = calibrationScores.map((minScore) => {
    const incidents = falseIncidents.filter((i) => i.peakScore >= minScore).length;
    const atOpen = falseIncidents.filter((i) => i.openScore >= minScore).length;
    return {
      minScore,
      incidents,
      incidentsByOpenScore: atOpen,
      seriesDays: Number(seriesDays.toFixed(1)),
      perSeriesDay: roundUp2(poissonUpper95(incidents) / seriesDays),
      faultsReached: faults.filter((f) => f.peakScore !== null && f.peakScore >= minScore).length,
      faultsOpenedAt: faults.filter((f) => f.openScore !== null && f.openScore >= minScore).length,
    };
  });
  const tsRows = rows.map((r) => `  { minScore: ${r.minScore}, incidents: ${r.incidents}, seriesDays: ${r.seriesDays}, perSeriesDay: ${r.perSeriesDay} },`).join('\n');
  console.log(
    JSON.stringify(
      {
        seeds: seeds.map((s) => s.seed),
        stepSeconds: [...steps][0],
        hostDaysReplayed: Number(seeds.reduce((sum, s) => sum + ((s.hosts.faulty + s.hosts.clean) * (s.days * 1440 - s.warmupMinutes)) / 1440, 0).toFixed(2)),
        seriesDaysReplayed: Number(seeds.reduce((sum, s) => sum + s.seriesDays, 0).toFixed(1)),
        distinctHosts: exposure.size,
        seriesDays: Number(seriesDays.toFixed(1)),
        falseIncidentsReplayed: seeds.reduce((sum, s) => sum + s.falseIncidents.length, 0),
        opensDuringWarmup: seeds.reduce((sum, s) => sum + s.opensDuringWarmup, 0),
        faults: faults.length,
        faultsDetected: faults.filter((f) => f.peakScore !== null).length,
        table: rows,
        falseIncidents,
        wallSeconds: seeds.reduce((sum, s) => sum + s.wallSeconds, 0),
        loadAverage1m: { min: Math.min(...seeds.map((s) => Math.min(s.loadAverage1m.start, s.loadAverage1m.end))), max: Math.max(...seeds.map((s) => Math.max(s.loadAverage1m.start, s.loadAverage1m.end))) },
      },
      null,
      2,
    ),
  );
  console.log(`\n// rows for liveIncidentTable (peak score ≥ minScore; perSeriesDay: 95 % upper bound)\n${tsRows}`);
}

async function main(): Promise<void> {
  if (values.pool) {
    pool(positionals);
    return;
  }
  if (positionals.length > 0) throw new ToolUsageError(`unexpected arguments ${positionals.join(' ')}`);
  if (values.seed === undefined) throw new ToolUsageError('--seed is required (one seed per run; pool the results with --pool)');
  console.log(JSON.stringify(await runSeed(), null, 2));
}

await tool.run(main);
