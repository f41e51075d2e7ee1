/**
 * Generalisation yardstick for the anomaly detector that is not NAB development data: seeded synthetic
 * series resembling the kinds of NAB series the team never had, with injected, labelled anomalies,
 * scored with Sloth's NAB scorer (analytics/src/nab) and NAB's threshold sweep over ALL files at once
 * (one threshold fits every series, as the evaluators score).
 *
 *   npx tsc -b analytics && nice -n 10 node --import tsx bench/detector/synthetic-nab.ts \
 *     [--seeds report|dev|1,2,3] [--files 4] [--model] [--algorithm legacy|ensemble] [--tuning JSON] [--baseline] [--dump DIR] [--per-file-out FILE]
 *
 * Seeds: `dev` (1, 2, 3) for developing changes, `report` (101 … 105) for the figures in
 * docs/benchmarks.md, never used while developing.
 *
 * The families and every parameter below were written down before any score was looked at, and are
 * not changed to suit a detector. Per file: 1–3 anomalies; NAB's windows (10 % of the file's rows split
 * evenly over its anomalies, centred on each onset); no window in NAB's probation (first 15 %).
 *
 * | family | rows | sampling | normal behaviour (unlabelled) | anomalies (labelled) |
 * |---|---|---|---|---|
 * | tweets | 15,000 | 5 min | gamma–Poisson counts (shape 3), rate e^U(ln 1, ln 40) × (1 + 0.7 sin daily); bursts ×U(2, 5) starting with p = 1/500 per row, mean 6 rows | surge ×U(8, 15) for 12–48 rows |
 * | traffic | 1,800–2,600 | 5 min × U(0.8, 1.2), p = 0.01 per row of a gap of U(1, 24) h | integer speed 65 − 25 × rush hour (8 h, 17 h by timestamp, weekdays) + N(0, 4) | jam −U(25, 40) for 12–36 rows, or spike +U(30, 50) for 1–3 rows |
 * | adexchange | 1,000–1,800 | hourly | lognormal m·exp(0.3 sin daily + 0.35 N), m = e^U(ln 0.05, ln 5), 3 decimals | spike ×U(3, 5) for 1–4 rows, or level ×U(0.3, 0.5) or ×U(2, 3) for 24–72 rows |
 * | levelshift | 4,000–6,000 | 5 min | level U(−100, 100) × scale 10^U(−2, 4), AR(1) noise (φ 0.5) + slow random-walk drift | permanent shift ±U(4, 8) noise sd |
 * | aws | 4,032 | 5 min | CPU % U(5, 60) × (1 + 0.2 sin daily) + 2 · Student-t(3); spikes +U(10, 30) for one row with p = 1/300; clipped to [0, 100] | +U(30, 50) for 6–24 rows, or drop to U(0, 2) for 12–36 rows |
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { applyTuningOverrides, createDetector, nabProfiles, pooledNabScore, scoreNabCorpus, scoreWithThreshold, updateAndTrain, type FileAtThreshold, type NabFile } from '@sloth/analytics';
import { BenchTool } from '../tool-args.js';

const usage = `usage: node --import tsx bench/detector/synthetic-nab.ts [--seeds dev] [--files 4] [--model] [--algorithm legacy] [--tuning JSON] [--baseline] [--dump DIR] [--per-file-out FILE]
Seeded synthetic NAB-like series with labelled anomalies, scored with Sloth's NAB scorer and one threshold swept
over all files (build first: npx tsc -b analytics).
  --seeds dev|report|1,2,3  dev (1, 2, 3) while developing, report (101 … 105) for docs/benchmarks.md (default dev)
  --files N             files per family and seed (default 4)
  --model               with the TF.js model (default: statistics only)
  --algorithm NAME      legacy or ensemble (default legacy)
  --tuning JSON         legacy detector constants, as SLOTH_DETECTOR_TUNING (default: the product's)
  --baseline            score NAB's windowed Gaussian reference instead of Sloth's detector
  --dump DIR            also write each file's rows (timestamp, value, score, in a window) as CSV under DIR (default: none)
  --per-file-out FILE   also write each file's NAB scores at each profile's threshold as JSON, for
                        bench/detector/paired-bootstrap.ts (default: none)`;
const tool = new BenchTool('detector/synthetic-nab', usage);
const flags = tool.args({
  seeds: { type: 'string', default: 'dev' },
  files: { type: 'string', default: '4' },
  model: { type: 'boolean', default: false },
  algorithm: { type: 'string', default: 'legacy' },
  tuning: { type: 'string' },
  baseline: { type: 'boolean', default: false },
  dump: { type: 'string' },
  'per-file-out': { type: 'string' },
});
const algorithm = flags.algorithm === 'legacy' || flags.algorithm === 'ensemble' ? flags.algorithm : tool.fail(`--algorithm must be legacy or ensemble, got ${JSON.stringify(flags.algorithm)}`);
const seeds = flags.seeds === 'dev' ? [1, 2, 3] : flags.seeds === 'report' ? [101, 102, 103, 104, 105] : flags.seeds.split(',').map(Number);
if (seeds.some((s) => !Number.isInteger(s))) tool.fail(`--seeds must be dev, report or integers separated by commas, got ${JSON.stringify(flags.seeds)}`);
const filesPerFamily = tool.number('files', flags.files, { min: 1, integer: true });
tool.check('tuning', () => applyTuningOverrides(flags.tuning));

/** Seeded random numbers (one stream per series). */
class Rng {
  private a: number;
  constructor(seed: number) {
    this.a = seed >>> 0;
  }
  uniform(): number {
    this.a = (this.a + 0x6d2b79f5) >>> 0;
    let t = this.a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (((t ^ (t >>> 14)) >>> 0) + 0.5) / 4294967297;
  }
  between(lo: number, hi: number): number {
    return lo + (hi - lo) * this.uniform();
  }
  int(lo: number, hi: number): number {
    return Math.floor(this.between(lo, hi + 1));
  }
  normal(): number {
    return Math.sqrt(-2 * Math.log(this.uniform())) * Math.cos(2 * Math.PI * this.uniform());
  }
  /** Marsaglia–Tsang gamma with unit scale. */
  gamma(shape: number): number {
    if (shape < 1) return this.gamma(shape + 1) * this.uniform() ** (1 / shape);
    const d = shape - 1 / 3;
    const c = 1 / Math.sqrt(9 * d);
    for (;;) {
      const x = this.normal();
      const v = (1 + c * x) ** 3;
      if (v > 0 && Math.log(this.uniform()) < 0.5 * x * x + d - d * v + d * Math.log(v)) return d * v;
    }
  }
  poisson(rate: number): number {
    if (rate > 60) return Math.max(0, Math.round(rate + Math.sqrt(rate) * this.normal()));
    const limit = Math.exp(-rate);
    let k = 0;
    let p = this.uniform();
    while (p > limit) {
      k += 1;
      p *= this.uniform();
    }
    return k;
  }
  studentT3(): number {
    const z = this.normal();
    const chi = this.normal() ** 2 + this.normal() ** 2 + this.normal() ** 2;
    return z / Math.sqrt(chi / 3);
  }
}

interface Series {
  timestampsMillis: number[];
  values: number[];
  /** Window limits as row indices. */
  windows: Array<[number, number]>;
}

/** An anomaly: onset row and length in rows; `apply` changes the clean value of an affected row. */
interface Anomaly {
  onset: number;
  rows: number;
  kind: number;
  a: number;
}

const start = Date.UTC(2024, 0, 1);
const hourMillis = 3_600_000;
const dayMillis = 24 * hourMillis;

/** NAB-like placement: one onset per equal segment after the probation; windows 10 % of the rows in total. */
function placeAnomalies(rng: Rng, n: number, maxRows: number): { anomalies: Array<{ onset: number; rows: number }>; windows: Array<[number, number]> } {
  const count = rng.int(1, 3);
  const width = Math.floor((0.1 * n) / count);
  const first = Math.ceil(0.15 * n) + Math.ceil(width / 2) + 1;
  const last = n - Math.ceil(width / 2) - maxRows - 2;
  const segment = (last - first) / count;
  const anomalies: Array<{ onset: number; rows: number }> = [];
  const windows: Array<[number, number]> = [];
  for (let k = 0; k < count; k += 1) {
    const onset = Math.floor(first + segment * (k + 0.25 + 0.5 * rng.uniform()));
    anomalies.push({ onset, rows: 0 });
    windows.push([onset - Math.floor(width / 2), onset + Math.floor(width / 2)]);
  }
  return { anomalies, windows };
}

function regularTimes(n: number, stepMillis: number): number[] {
  return Array.from({ length: n }, (_, i) => start + i * stepMillis);
}

function activeAnomaly(anomalies: readonly Anomaly[], i: number): Anomaly | null {
  for (const a of anomalies) if (i >= a.onset && i < a.onset + a.rows) return a;
  return null;
}

const families: Record<string, (rng: Rng) => Series> = {
  tweets(rng) {
    const n = 15_000;
    const base = Math.exp(rng.between(Math.log(1), Math.log(40)));
    const phase = rng.between(0, 2 * Math.PI);
    const placed = placeAnomalies(rng, n, 48);
    const anomalies: Anomaly[] = placed.anomalies.map((p) => ({ onset: p.onset, rows: rng.int(12, 48), kind: 0, a: rng.between(8, 15) }));
    const t = regularTimes(n, 300_000);
    const values: number[] = [];
    let burstLeft = 0;
    let burstFactor = 1;
    for (let i = 0; i < n; i += 1) {
      if (burstLeft === 0 && rng.uniform() < 1 / 500) {
        burstLeft = 1 + Math.floor(-Math.log(rng.uniform()) * 6);
        burstFactor = rng.between(2, 5);
      }
      let rate = base * Math.max(0.05, 1 + 0.7 * Math.sin((2 * Math.PI * (t[i] as number)) / dayMillis + phase));
      if (burstLeft > 0) {
        rate *= burstFactor;
        burstLeft -= 1;
      }
      const a = activeAnomaly(anomalies, i);
      if (a !== null) rate *= a.a;
      values.push(rng.poisson((rate * rng.gamma(3)) / 3));
    }
    return { timestampsMillis: t, values, windows: placed.windows };
  },
  traffic(rng) {
    const n = rng.int(1800, 2600);
    const placed = placeAnomalies(rng, n, 36);
    const anomalies: Anomaly[] = placed.anomalies.map((p) => {
      const jam = rng.uniform() < 0.5;
      return jam ? { onset: p.onset, rows: rng.int(12, 36), kind: 0, a: rng.between(25, 40) } : { onset: p.onset, rows: rng.int(1, 3), kind: 1, a: rng.between(30, 50) };
    });
    const t: number[] = [];
    let now = start;
    for (let i = 0; i < n; i += 1) {
      t.push(now);
      now += Math.round(300_000 * rng.between(0.8, 1.2));
      if (rng.uniform() < 0.01) now += Math.round(rng.between(1, 24) * hourMillis);
    }
    const values = t.map((ms, i) => {
      const date = new Date(ms);
      const hour = date.getUTCHours() + date.getUTCMinutes() / 60;
      const weekday = date.getUTCDay() >= 1 && date.getUTCDay() <= 5;
      const rush = weekday ? Math.exp(-0.5 * (hour - 8) ** 2) + Math.exp(-0.5 * (hour - 17) ** 2) : 0;
      let v = 65 - 25 * rush + 4 * rng.normal();
      const a = activeAnomaly(anomalies, i);
      if (a !== null) v += a.kind === 0 ? -a.a : a.a;
      return Math.max(3, Math.round(v));
    });
    return { timestampsMillis: t, values, windows: placed.windows };
  },
  adexchange(rng) {
    const n = rng.int(1000, 1800);
    const m = Math.exp(rng.between(Math.log(0.05), Math.log(5)));
    const placed = placeAnomalies(rng, n, 72);
    const anomalies: Anomaly[] = placed.anomalies.map((p) => {
      const kind = rng.int(0, 2);
      if (kind === 0) return { onset: p.onset, rows: rng.int(1, 4), kind, a: rng.between(3, 5) };
      return { onset: p.onset, rows: rng.int(24, 72), kind, a: kind === 1 ? rng.between(0.3, 0.5) : rng.between(2, 3) };
    });
    const t = regularTimes(n, hourMillis);
    const values = t.map((ms, i) => {
      let v = m * Math.exp(0.3 * Math.sin((2 * Math.PI * ms) / dayMillis) + 0.35 * rng.normal());
      const a = activeAnomaly(anomalies, i);
      if (a !== null) v *= a.a;
      return Math.round(v * 1000) / 1000;
    });
    return { timestampsMillis: t, values, windows: placed.windows };
  },
  levelshift(rng) {
    const n = rng.int(4000, 6000);
    const scale = 10 ** rng.between(-2, 4);
    const level0 = rng.between(-100, 100) * scale;
    const placed = placeAnomalies(rng, n, 0);
    // AR(1) with φ 0.5 and unit innovations has marginal sd 1/√(1 − 0.25).
    const sd = scale / Math.sqrt(0.75);
    const shifts = placed.anomalies.map((p) => ({ onset: p.onset, size: (rng.uniform() < 0.5 ? -1 : 1) * rng.between(4, 8) * sd }));
    const t = regularTimes(n, 300_000);
    let ar = 0;
    let drift = 0;
    const values = t.map((_ms, i) => {
      ar = 0.5 * ar + scale * rng.normal();
      drift += 0.02 * scale * rng.normal();
      let v = level0 + ar + drift;
      for (const s of shifts) if (i >= s.onset) v += s.size;
      return v;
    });
    return { timestampsMillis: t, values, windows: placed.windows };
  },
  aws(rng) {
    const n = 4032;
    const base = rng.between(5, 60);
    const placed = placeAnomalies(rng, n, 36);
    const anomalies: Anomaly[] = placed.anomalies.map((p) => {
      const high = rng.uniform() < 0.5;
      return high ? { onset: p.onset, rows: rng.int(6, 24), kind: 0, a: rng.between(30, 50) } : { onset: p.onset, rows: rng.int(12, 36), kind: 1, a: rng.between(0, 2) };
    });
    const t = regularTimes(n, 300_000);
    const values = t.map((ms, i) => {
      let v = base * (1 + 0.2 * Math.sin((2 * Math.PI * ms) / dayMillis)) + 2 * rng.studentT3();
      if (rng.uniform() < 1 / 300) v += rng.between(10, 30);
      const a = activeAnomaly(anomalies, i);
      if (a !== null) v = a.kind === 0 ? v + a.a : a.a;
      return Math.round(Math.min(100, Math.max(0, v)) * 1000) / 1000;
    });
    return { timestampsMillis: t, values, windows: placed.windows };
  },
};

/** NAB's windowed Gaussian reference detector (window 6,400 rows, statistics refreshed every 100 rows). */
function windowedGaussian(values: readonly number[]): number[] {
  const out: number[] = [];
  let mean = 0;
  let sd = 0;
  for (let i = 0; i < values.length; i += 1) {
    const v = values[i] as number;
    if (i > 0 && i % 100 === 1) {
      const w = values.slice(Math.max(0, i - 6400), i);
      mean = w.reduce((a, b) => a + b, 0) / w.length;
      sd = Math.sqrt(w.reduce((a, b) => a + (b - mean) ** 2, 0) / w.length);
    }
    // 1 − two-sided tail of the z score (erf via the complementary tail of a standard normal).
    const z = sd > 0 ? Math.abs(v - mean) / sd : 0;
    out.push(i === 0 ? 0 : erf(z / Math.SQRT2));
  }
  return out;
}

function erf(x: number): number {
  const t = 1 / (1 + 0.3275911 * x);
  return 1 - ((((1.061405429 * t - 1.453152027) * t + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t * Math.exp(-x * x);
}

async function score(series: Series): Promise<number[]> {
  if (flags.baseline) return windowedGaussian(series.values);
  const detector = createDetector({ useModel: flags.model, algorithm });
  const out: number[] = [];
  for (let i = 0; i < series.values.length; i += 1) {
    const row = { timestampMillis: series.timestampsMillis[i] as number, value: series.values[i] as number };
    out.push((flags.model ? await updateAndTrain(detector, row) : detector.update(row.timestampMillis, row.value)).score);
  }
  return out;
}

const familyNames = Object.keys(families);
const files: Array<NabFile & { family: string; values: readonly number[] }> = [];
const began = process.hrtime.bigint();
let rowsTotal = 0;
for (const seed of seeds) {
  for (const [f, name] of familyNames.entries()) {
    for (let k = 0; k < filesPerFamily; k += 1) {
      const rng = new Rng(seed * 1_000_003 + f * 1009 + k * 17);
      const series = (families[name] as (rng: Rng) => Series)(rng);
      rowsTotal += series.values.length;
      const t = series.timestampsMillis;
      files.push({
        family: name,
        values: series.values,
        name: `${name}/seed${seed}-${k}.csv`,
        timestampsMillis: t,
        anomalyScores: await score(series),
        windows: series.windows.map(([a, b]) => [t[a] as number, t[b] as number] as const),
      });
    }
  }
}
const seconds = Number(process.hrtime.bigint() - began) / 1e9;
if (flags.dump !== undefined) {
  // Per file: row, timestamp, value, score, 1 inside a labelled window (for diagnosis; not part of the figures).
  for (const file of files) {
    const path = join(flags.dump, file.name);
    mkdirSync(dirname(path), { recursive: true });
    const inWindow = (t: number): number => (file.windows.some(([a, b]) => t >= a && t <= b) ? 1 : 0);
    const t = file.timestampsMillis;
    writeFileSync(path, 'row,timestamp,value,score,window\n' + file.anomalyScores.map((x, i) => `${i},${new Date(t[i] as number).toISOString()},${file.values[i]},${x.toFixed(5)},${inWindow(t[i] as number)}`).join('\n') + '\n');
  }
}

const detectorName = flags.baseline ? 'windowed Gaussian (NAB reference design)' : `${algorithm}${flags.model ? ' + TF.js model' : ', statistics only'}${flags.tuning === undefined ? '' : `, tuning ${flags.tuning}`}`;
process.stdout.write(`synthetic NAB-like yardstick: ${detectorName}; seeds ${seeds.join(',')}; ${files.length} files, ${rowsTotal} rows, ${seconds.toFixed(1)} s\n\n`);
process.stdout.write('| profile | all files (one threshold) | threshold | TP rows | FP rows | ' + familyNames.join(' | ') + ' |\n');
process.stdout.write(`|---|---|---|---|---|${familyNames.map(() => '---').join('|')}|\n`);
const results = scoreNabCorpus(files);
const perFile: Record<string, FileAtThreshold[]> = {};
for (const [p, profile] of nabProfiles.entries()) {
  const r = results[p];
  if (r === undefined) continue;
  // Per family at the corpus-wide threshold: normalised like NAB (null = every window missed, perfect = every window detected).
  const atThreshold = scoreWithThreshold(files, profile, r.threshold).files;
  perFile[r.profile] = atThreshold;
  const cells = familyNames.map((name) => {
    const family = atThreshold.filter((_, i) => files[i]?.family === name);
    return `${pooledNabScore(family).toFixed(1)} (${family.reduce((n, f) => n + f.fp, 0)} FP)`;
  });
  process.stdout.write(`| ${r.profile} | **${r.normalizedScore.toFixed(2)}** | ${r.threshold.toFixed(4)} | ${r.counts.tp} | ${r.counts.fp} | ${cells.join(' | ')} |\n`);
}
if (flags['per-file-out'] !== undefined) {
  const path = flags['per-file-out'];
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, `${JSON.stringify({ source: 'synthetic-nab', detector: detectorName, seeds, profiles: perFile }, null, 2)}\n`);
}
