/**
 * Cost of publishing samples to the Redis samples stream: the collector's
 * `SamplePublisher` against a private redis-server, paced at a given rate of
 * samples per second (requests of `--per-request` gauge points from 100
 * agents). Reports collector CPU and redis-server CPU per sample (a no-op
 * publish loop's cost is not subtracted), and the stream's size.
 *
 *   npx tsx bench/collector/publisher.ts [--rate 150000] [--seconds 10] [--per-request 1000]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import { RedisServer, seriesId, silentLogger } from '@sloth/core';
import { SamplePublisher } from '../../collector/src/publisher.js';
import { metricColumns, type MetricColumns, type MetricPoint } from '../../collector/src/records.js';

const { values: args } = parseArgs({
  options: {
    rate: { type: 'string', default: '150000' },
    seconds: { type: 'string', default: '10' },
    'per-request': { type: 'string', default: '1000' },
  },
});
const rate = Number(args.rate);
const seconds = Number(args.seconds);
const perRequest = Number(args['per-request']);

const dir = mkdtempSync(join(tmpdir(), 'sloth-pubbench-'));
const redis = await RedisServer.start({ dir, appendOnly: false });
const client = new Redis(redis.url);

let published = 0;
let dropped = 0;
const publisher = new SamplePublisher({
  redisUrl: redis.url,
  streamKey: 'bench:samples',
  maxLength: 1_000_000,
  bufferSamples: 100_000,
  logger: silentLogger(),
  onDropped: (n: number) => (dropped += n),
  onPublished: (n: number) => (published += n),
});
await publisher.start();

// 100 agents x perRequest series each; one request = one agent's points at one timestamp.
const agents = 100;
const requests: MetricColumns[] = [];
for (let a = 0; a < agents; a += 1) {
  const agentId = `host-${a}.example.internal`;
  const points: MetricPoint[] = [];
  for (let k = 0; k < perRequest; k += 1) {
    const labels = { agent: agentId, cpu: String(k % 64), host: agentId, state: ['user', 'system', 'idle', 'wait'][k % 4]! };
    const name = `system.metric_${Math.floor(k / 256)}.utilization`;
    points.push({ seriesKey: seriesId(name, labels), name, labels, agentId, kind: 'gauge', unit: '1', description: '', monotonic: false, timestampMillis: 1_764_000_000_000 + a, value: Math.random() * 100 });
  }
  requests.push(metricColumns(points));
}

async function redisCpu(): Promise<number> {
  const info = await client.info('cpu');
  const user = Number(/used_cpu_user:([\d.]+)/.exec(info)?.[1]);
  const sys = Number(/used_cpu_sys:([\d.]+)/.exec(info)?.[1]);
  return user + sys;
}

const redisBefore = await redisCpu();
const cpuBefore = process.cpuUsage();
const start = performance.now();
let sent = 0;
let publishMillis = 0;
const perTick = rate / 100; // every 10 ms
let next = 0;
while (performance.now() - start < seconds * 1_000) {
  const due = ((performance.now() - start) / 10) * perTick;
  while (sent < due) {
    const t0 = performance.now();
    publisher.publish(requests[next % agents] as MetricColumns);
    publishMillis += performance.now() - t0;
    next += 1;
    sent += perRequest;
  }
  await new Promise((r) => setTimeout(r, 2));
}
const wallSending = (performance.now() - start) / 1_000;
while (publisher.pending > 0 && performance.now() - start < (seconds + 20) * 1_000) await new Promise((r) => setTimeout(r, 20));
const cpu = process.cpuUsage(cpuBefore);
const redisAfter = await redisCpu();
const entries = await client.xlen('bench:samples');
const mem = await client.memory('USAGE', 'bench:samples');
await publisher.shutdown(1_000);
client.disconnect();
await redis.stop();
rmSync(dir, { recursive: true, force: true });
const processCpuSeconds = (cpu.user + cpu.system) / 1e6;
console.log(JSON.stringify({
  offeredPerSecond: Math.round(sent / wallSending),
  published,
  dropped,
  streamEntries: entries,
  streamBytes: mem,
  redisCpuMicrosPerPublishedSample: Number((((redisAfter - redisBefore) * 1e6) / Math.max(1, published)).toFixed(3)),
  redisCpuCoreShare: Number(((redisAfter - redisBefore) / wallSending).toFixed(3)),
  collectorCpuMicrosPerSample: Number(((processCpuSeconds * 1e6) / sent).toFixed(3)),
  collectorUserMicrosPerSample: Number((cpu.user / sent).toFixed(3)),
  collectorSystemMicrosPerSample: Number((cpu.system / sent).toFixed(3)),
  publishCallMicrosPerSample: Number(((publishMillis * 1e3) / sent).toFixed(3)),
}, null, 2));
process.exit(0);
