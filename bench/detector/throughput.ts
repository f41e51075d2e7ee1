/**
 * Detector throughput and footprint (issue 4 targets): scoring rows/s on one core (the product default,
 * statistics only; with `--model`, trained TF.js models installed and used), training time of one
 * 4,000-point series, and memory / snapshot size per tracked series.
 *
 *   npx tsc -b analytics && nice -n 10 node --expose-gc --import tsx bench/detector/throughput.ts [--series 200] [--rows 4000] [--model] [--algorithm ensemble] [--tuning JSON]
 *
 * With `--algorithm ensemble` the (model-free) ensemble detector is measured instead; training is
 * still timed for reference but no model is installed.
 *
 * Wall and CPU time are both reported: on a shared machine wall time includes waiting for a core.
 */
import { applyTuningOverrides, createDetector, ensureTfBackend, trainModel, type SeriesDetector, type TrainedModel } from '@sloth/analytics';
import { BenchTool } from '../tool-args.js';

const usage = `usage: node --expose-gc --import tsx bench/detector/throughput.ts [--series 200] [--rows 4000] [--model] [--algorithm legacy] [--tuning JSON]
Detector throughput and footprint: training time of one 4,000-point series, scoring rows/s (wall and CPU),
memory and snapshot size per tracked series (build first: npx tsc -b analytics).
  --series N            tracked series scored (default 200)
  --rows N              rows per series; the second half is timed (default 4000)
  --model               legacy detector with its TF.js model trained, installed and used (opt-in since rule M)
  --algorithm NAME      legacy or ensemble (model-free) (default legacy)
  --tuning JSON         legacy detector constants, as SLOTH_DETECTOR_TUNING (default: the product's)`;
const tool = new BenchTool('detector/throughput', usage);
const flags = tool.args({
  series: { type: 'string', default: '200' },
  rows: { type: 'string', default: '4000' },
  algorithm: { type: 'string', default: 'legacy' },
  model: { type: 'boolean', default: false },
  tuning: { type: 'string' },
});
// Legacy detector constants (JSON, as SLOTH_DETECTOR_TUNING), e.g. '{"tail":2}' to measure an option's cost.
tool.check('tuning', () => applyTuningOverrides(flags.tuning));
const seriesCount = tool.number('series', flags.series, { min: 1, integer: true });
if (flags.algorithm !== 'legacy' && flags.algorithm !== 'ensemble') tool.fail(`--algorithm must be ensemble or legacy, got ${JSON.stringify(flags.algorithm)}`);
const ensemble = flags.algorithm === 'ensemble';
if (ensemble && flags.model) tool.fail('--model is for the legacy detector; the ensemble detector has no model');
const withModel = flags.model && !ensemble;
const rowCount = tool.number('rows', flags.rows, { min: 2, integer: true });
const start = Date.UTC(2024, 0, 1);
const stepMillis = 300_000;

function value(series: number, i: number): number {
  const noise = Math.sin(i * 12.9898 + series * 78.233) * 43758.5453;
  return 50 + 20 * Math.sin((2 * Math.PI * i) / 288 + series) + 3 * (noise - Math.floor(noise) - 0.5);
}

const backend = await ensureTfBackend();

// 1. Training one 4,000-point series (what a training job costs), 5 runs after a warm-up.
const trainValues = Array.from({ length: 4000 }, (_, i) => value(0, i));
const request = { kind: 'mlp-forecaster' as const, version: 1, values: trainValues, lagRows: 24, seasonalLagRows: 288, hiddenUnits: 16, epochs: 12, seed: 42 };
await trainModel({ ...request, epochs: 1 });
const trainMillis: number[] = [];
const trainCpuMillis: number[] = [];
let model: TrainedModel | null = null;
for (let k = 0; k < 5; k += 1) {
  const began = performance.now();
  const cpuBefore = process.cpuUsage();
  model = await trainModel(request);
  const used = process.cpuUsage(cpuBefore);
  trainCpuMillis.push((used.user + used.system) / 1000);
  trainMillis.push(performance.now() - began);
}
trainMillis.sort((a, b) => a - b);
trainCpuMillis.sort((a, b) => a - b);

// 2. Scoring: every series warms up on its first half (with `--model`, the trained model installed), then
// the second half is timed (update() only — the per-row cost of the service).
globalThis.gc?.();
const heapBefore = process.memoryUsage().heapUsed;
const detectors: SeriesDetector[] = [];
const half = Math.floor(rowCount / 2);
for (let s = 0; s < seriesCount; s += 1) {
  const d = createDetector(ensemble ? { algorithm: 'ensemble' } : { minTrainRows: Number.MAX_SAFE_INTEGER, algorithm: 'legacy', useModel: withModel });
  if (model !== null && withModel) d.installModel(model);
  for (let i = 0; i < half; i += 1) d.update(start + i * stepMillis, value(s, i));
  detectors.push(d);
}
globalThis.gc?.();
const heapAfter = process.memoryUsage().heapUsed;
const began = performance.now();
const cpu = process.cpuUsage();
let checksum = 0;
for (let i = half; i < rowCount; i += 1) {
  for (let s = 0; s < seriesCount; s += 1) checksum += (detectors[s] as SeriesDetector).update(start + i * stepMillis, value(s, i)).score;
}
const cpuUsed = process.cpuUsage(cpu);
const cpuMillis = (cpuUsed.user + cpuUsed.system) / 1000;
const wallMillis = performance.now() - began;
const scored = seriesCount * (rowCount - half);
const snapshotBytes = Buffer.byteLength(JSON.stringify(detectors[0]?.snapshot()));

console.log(`TF.js backend: ${backend}`);
console.log(`training one 4,000-point series (12 epochs): median ${trainMillis[2]?.toFixed(0)} ms wall (min ${trainMillis[0]?.toFixed(0)}, max ${trainMillis[4]?.toFixed(0)}), median ${trainCpuMillis[2]?.toFixed(0)} ms CPU`);
console.log(`scoring ${ensemble ? 'with the ensemble detector (no model)' : withModel ? 'with trained models' : 'statistics only (the default)'}: ${scored} rows over ${seriesCount} series in ${wallMillis.toFixed(0)} ms wall, ${cpuMillis.toFixed(0)} ms CPU → ${Math.round(scored / (wallMillis / 1000))} rows/s (wall), ${Math.round(scored / (cpuMillis / 1000))} rows/s per CPU-second`);
console.log(`memory per tracked series: ~${((heapAfter - heapBefore) / seriesCount / 1024).toFixed(1)} KB heap${globalThis.gc === undefined ? ' (run with node --expose-gc for a cleaner figure)' : ''}; snapshot JSON ${(snapshotBytes / 1024).toFixed(1)} KB${withModel ? ' (incl. the model)' : ''}`);
console.log(`(checksum ${checksum.toFixed(3)})`);
