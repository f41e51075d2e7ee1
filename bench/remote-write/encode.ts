/**
 * Remote-write encoding cost on one thread, without HTTP: CPU per sample to
 * build and encode a WriteRequest of `--batch` samples over `--series` series
 * (label sets already cached, as in a running collector), then to snappy-compress it.
 *
 *   npx tsx bench/remote-write/encode.ts [--series 20000] [--batch 10000] [--rounds 60]
 */
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import type { MetricColumns, MetricSeries } from '../../collector/src/records.js';
import { TimeSeriesBuilder } from '../../collector/src/remote-write/timeseries.js';
import { compressWriteRequest } from '../../collector/src/remote-write/write-request.js';

const { values: args } = parseArgs({ options: { series: { type: 'string', default: '20000' }, batch: { type: 'string', default: '10000' }, rounds: { type: 'string', default: '60' } } });
const seriesCount = Number(args.series);
const batch = Number(args.batch);
const rounds = Number(args.rounds);

const series: MetricSeries[] = Array.from({ length: seriesCount }, (_, s) => {
  const m = s % 20;
  const labels = { agent: `bench-agent-${Math.floor(s / 1000)}`, cpu: String(s % 16), state: ['user', 'system', 'idle', 'iowait'][s % 4] as string, slot: String(Math.floor(s / 20) % 50) };
  return { key: `k${s}`, name: `bench.metric.${m}`, labels, agentId: labels.agent, kind: m % 2 === 0 ? 'gauge' : 'sum', unit: m % 2 === 0 ? '1' : '{request}', description: '', monotonic: m % 2 === 1 };
});

function columns(offset: number, round: number): MetricColumns {
  const timestamps = new Float64Array(batch);
  const values = new Float64Array(batch);
  const out: MetricSeries[] = [];
  for (let i = 0; i < batch; i++) {
    out.push(series[(offset + i) % seriesCount] as MetricSeries);
    timestamps[i] = 1_700_000_000_000 + round;
    values[i] = Math.random() * 100;
  }
  return { length: batch, series: out, timestamps, values, histograms: new Map() };
}

const inputs = Array.from({ length: rounds }, (_, r) => columns((r * batch) % seriesCount, r));
const builder = new TimeSeriesBuilder();
// Warm-up: label sets are encoded on first sight of a series, once for its life.
for (let r = 0; r < Math.ceil(seriesCount / batch) + 2; r++) {
  builder.add(columns((r * batch) % seriesCount, -r - 1));
  compressWriteRequest(builder.finish());
}
let encodeMicros = 0;
let snappyMicros = 0;
let rawBytes = 0;
let bodyBytes = 0;
for (const input of inputs) {
  const before = process.cpuUsage();
  builder.add(input);
  const encoded = builder.finish();
  const middle = process.cpuUsage(before);
  const body = compressWriteRequest(encoded);
  const after = process.cpuUsage(before);
  encodeMicros += middle.user + middle.system;
  snappyMicros += after.user + after.system - middle.user - middle.system;
  rawBytes += encoded.length;
  bodyBytes += body.length;
}
const samples = rounds * batch;
const perSample = (micros: number): number => Number((micros / samples).toFixed(3));
process.stdout.write(
  `${JSON.stringify({
    series: seriesCount,
    samplesPerRequest: batch,
    samples,
    cpuMicrosPerSample: { buildAndEncode: perSample(encodeMicros), snappy: perSample(snappyMicros), total: perSample(encodeMicros + snappyMicros) },
    bytesPerSample: { protobuf: Number((rawBytes / samples).toFixed(1)), body: Number((bodyBytes / samples).toFixed(1)) },
    loadAverage1m: Number(loadavg()[0]?.toFixed(1)),
  })}\n`,
);
