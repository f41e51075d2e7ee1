/**
 * Sloth's forecast rule against node-mixin's `predict_linear` rule on the same
 * disk-usage traces. Both ask "will the disk pass 95 % within 4 h, and is it
 * over 80 % now?"; `predict_linear` extrapolates a least-squares line over the
 * last 6 h (as node-mixin's NodeFilesystemSpaceFillingUp does), Sloth's rule
 * uses the p50 of analytics' forecaster (statistical models, no TF.js).
 * Traces (10-minute samples, 4 days, seeded): disks that fill up at a known
 * time, disks with a daily log-rotation sawtooth that never fill, and disks
 * steady near 85 %. An alert is a run of consecutive true evaluations; it is a
 * hit when the disk really passes 95 % within 4 h of the alert's start.
 *
 *   nice -n 10 node --import tsx bench/alerts/forecast-vs-predict-linear.ts --hosts-per-kind 5 --every 60
 */
import { parseArgs } from 'node:util';
import { forecastSeries } from '@sloth/analytics';

const { values: args } = parseArgs({ options: { 'hosts-per-kind': { type: 'string', default: '5' }, every: { type: 'string', default: '60' }, seed: { type: 'string', default: '7' } } });
const hostsPerKind = Number(args['hosts-per-kind']);
const everyMinutes = Number(args.every);
let seed = Number(args.seed);
const random = (): number => ((seed = (Math.imul(seed, 1_103_515_245) + 12_345) >>> 0) / 2 ** 32);
const noise = (size: number): number => (random() - 0.5) * 2 * size;

const stepMillis = 600_000;
const points = 4 * 144;
const t0 = Date.UTC(2026, 0, 5);
const level = 95;
const guard = 80;
const horizonMillis = 4 * 3_600_000;
const horizonSteps = horizonMillis / stepMillis;

type Kind = 'fills' | 'sawtooth' | 'steady';
interface Trace { kind: Kind; values: number[] }

function trace(kind: Kind): Trace {
  const values: number[] = [];
  const fillStart = 2 * 144 + 36 + Math.floor(random() * 108); // day 3, after the models have two days of history
  for (let i = 0; i < points; i += 1) {
    const minuteOfDay = (i * 10) % 1440;
    let v: number;
    if (kind === 'fills') v = i < fillStart ? 60 + i * 0.01 : 60 + i * 0.01 + (i - fillStart) * (40 / 48); // full in ~8 h
    else if (kind === 'sawtooth') v = 70 + (minuteOfDay / 1440) * 23; // logs grow to 93 % by midnight, then rotate
    else v = 85;
    values.push(Math.min(100, Math.max(0, v + noise(0.4))));
  }
  return { kind, values };
}

function predictLinear(values: number[], end: number): number {
  const window = 36; // 6 h of 10-minute samples
  const from = Math.max(0, end - window + 1);
  const n = end - from + 1;
  let sx = 0, sy = 0, sxx = 0, sxy = 0;
  for (let i = from; i <= end; i += 1) {
    const x = i - end;
    const y = values[i] as number;
    sx += x; sy += y; sxx += x * x; sxy += x * y;
  }
  const slope = (n * sxy - sx * sy) / (n * sxx - sx * sx);
  const intercept = (sy - slope * sx) / n;
  return intercept + slope * horizonSteps;
}

interface Outcome { alerts: number; hits: number; leadsMillis: number[]; breaches: number; caught: number }

const traces: Trace[] = [];
for (const kind of ['fills', 'sawtooth', 'steady'] as const) for (let h = 0; h < hostsPerKind; h += 1) traces.push(trace(kind));
const timestamps = Array.from({ length: points }, (_, i) => t0 + i * stepMillis);
const methods = { predict_linear: emptyOutcome(), sloth_forecast: emptyOutcome() };
function emptyOutcome(): Outcome { return { alerts: 0, hits: 0, leadsMillis: [], breaches: 0, caught: 0 }; }

const everySteps = Math.max(1, Math.round(everyMinutes / 10));
const startMillis = Date.now();
for (const tr of traces) {
  const breachIndex = tr.values.findIndex((v) => v >= level);
  const firing = { predict_linear: false, sloth_forecast: false };
  const caught = { predict_linear: false, sloth_forecast: false };
  for (let end = 288; end < points; end += everySteps) {
    if (breachIndex >= 0 && end >= breachIndex) break; // graded up to the breach
    const current = tr.values[end] as number;
    const linear = current > guard && predictLinear(tr.values, end) >= level;
    let sloth = false;
    if (current > guard) {
      const forecast = await forecastSeries(timestamps.slice(0, end + 1), tr.values.slice(0, end + 1), horizonSteps, { models: ['holt-winters', 'ets', 'seasonal-profile', 'seasonal-naive'] });
      sloth = forecast.points.some((p) => p.p50 >= level);
    }
    for (const [name, now] of [['predict_linear', linear], ['sloth_forecast', sloth]] as const) {
      if (now && !firing[name]) {
        const outcome = methods[name];
        outcome.alerts += 1;
        const hit = breachIndex >= 0 && breachIndex - end <= horizonSteps;
        if (hit) {
          outcome.hits += 1;
          outcome.leadsMillis.push((breachIndex - end) * stepMillis);
          caught[name] = true;
        }
      }
      firing[name] = now;
    }
  }
  for (const name of ['predict_linear', 'sloth_forecast'] as const) {
    if (breachIndex >= 0) methods[name].breaches += 1;
    if (caught[name]) methods[name].caught += 1;
  }
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? Number.NaN : s.length % 2 === 1 ? (s[(s.length - 1) / 2] as number) : ((s[s.length / 2 - 1] as number) + (s[s.length / 2] as number)) / 2;
};
console.log(`${traces.length} disks (${hostsPerKind} that fill, ${hostsPerKind} with a daily sawtooth, ${hostsPerKind} steady near 85 %), evaluated every ${everySteps * 10} min; ${((Date.now() - startMillis) / 1000).toFixed(0)} s`);
console.log('| rule | alerts | hits | precision | breaches caught before they happened | median lead |');
console.log('|---|---:|---:|---:|---:|---:|');
for (const [name, o] of Object.entries(methods)) {
  console.log(`| ${name} | ${o.alerts} | ${o.hits} | ${o.alerts === 0 ? '-' : (o.hits / o.alerts).toFixed(2)} | ${o.caught}/${o.breaches} | ${o.leadsMillis.length === 0 ? '-' : `${(median(o.leadsMillis) / 60_000).toFixed(0)} min`} |`);
}
