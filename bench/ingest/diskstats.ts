/**
 * Samples one disk's `/proc/diskstats` fields (every process's reads, writes, discards and flushes on
 * it) every `--every-ms` for `--seconds`, as lines `<epoch seconds> <fields after the disk's name>`, for
 * `tail-evidence.ts --diskstats`. Start it just before a `run.ts --strace` run:
 *
 *   npx tsx bench/ingest/diskstats.ts --disk vda --seconds 45 --out FILE & npx tsx bench/ingest/run.ts ... --strace S
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

const { values: args } = parseArgs({ options: { disk: { type: 'string', default: 'vda' }, seconds: { type: 'string', default: '45' }, 'every-ms': { type: 'string', default: '20' }, out: { type: 'string' } } });
const seconds = Number(args.seconds);
const everyMillis = Number(args['every-ms']);
if (args.out === undefined) throw new Error('--out FILE is required');
if (!(seconds > 0) || !(everyMillis > 0)) throw new Error(`--seconds and --every-ms must be positive, got ${args.seconds} and ${args['every-ms']}`);
const out = args.out;
const marker = ` ${args.disk} `;
const lines: string[] = [];
const endAt = Date.now() + seconds * 1000;
function sample(): void {
  const line = readFileSync('/proc/diskstats', 'utf8')
    .split('\n')
    .find((l) => l.includes(marker));
  if (line === undefined) throw new Error(`no disk named ${JSON.stringify(args.disk)} in /proc/diskstats`);
  lines.push(`${((performance.timeOrigin + performance.now()) / 1000).toFixed(6)} ${line.slice(line.indexOf(marker) + marker.length).trim()}`);
  if (Date.now() < endAt) setTimeout(sample, everyMillis);
  else writeFileSync(out, `${lines.join('\n')}\n`);
}
sample();
