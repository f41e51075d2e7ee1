/**
 * Counts the collections in a collector log written with `--node-flags="--trace-gc
 * --trace-incremental-marking" --collector-log FILE` (bench/ingest/run.ts), per V8 isolate: the main
 * thread is the isolate of the first line (it starts before the store writer's), the writer thread the
 * other. For each: scavenges, mark-compacts, their pauses (ms), the incremental marking done on the
 * thread before each mark-compact (the `+ N ms in M steps` of the line, which is main-thread time),
 * and why incremental marking started (`[IncrementalMarking] Start (reason)`).
 *
 *   npx tsx bench/ingest/gc-count.ts FILE [FILE...]
 */
import { readFileSync } from 'node:fs';

interface IsolateCounts {
  scavenges: number;
  scavengePauseMillis: number;
  markCompacts: number;
  markCompactPauseMillis: number;
  incrementalStepMillis: number;
  biggestStepMillis: number;
  /** Mark-compact lines: heap MB before -> after. */
  freedMb: number[];
  startReasons: Record<string, number>;
}

const files = process.argv.slice(2);
if (files.length === 0) throw new Error('usage: gc-count.ts FILE [FILE...] (collector logs written with --trace-gc --trace-incremental-marking)');

const gcLine = /^\[\d+:(0x[0-9a-f]+)\]\s+[\d.]+ ms: (Scavenge|Mark-Compact(?: \(reduce\))?|Minor Mark-Compact|Mark-Sweep)\S* ([\d.]+) \([\d.]+\) -> ([\d.]+) \([\d.]+\) MB, (?:pooled: [\d.]+ MB, )?([\d.]+) \/ [\d.]+ ms(.*)$/;
const stepsPart = /\+ ([\d.]+) ms in \d+ steps since start of marking, biggest step ([\d.]+) ms/;
const startLine = /^\[\d+:(0x[0-9a-f]+)\]\s+[\d.]+ ms: \[IncrementalMarking\] Start \(([^)]*)\)/;

for (const file of files) {
  const isolates = new Map<string, IsolateCounts>();
  const of = (isolate: string): IsolateCounts => {
    let counts = isolates.get(isolate);
    if (counts === undefined) {
      counts = { scavenges: 0, scavengePauseMillis: 0, markCompacts: 0, markCompactPauseMillis: 0, incrementalStepMillis: 0, biggestStepMillis: 0, freedMb: [], startReasons: {} };
      isolates.set(isolate, counts);
    }
    return counts;
  };
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    const start = startLine.exec(line);
    if (start !== null) {
      const counts = of(start[1] as string);
      const reason = start[2] as string;
      counts.startReasons[reason] = (counts.startReasons[reason] ?? 0) + 1;
      continue;
    }
    const gc = gcLine.exec(line);
    if (gc === null) continue;
    const counts = of(gc[1] as string);
    const pause = Number(gc[5]);
    if (gc[2] === 'Scavenge' || gc[2] === 'Minor Mark-Compact') {
      counts.scavenges += 1;
      counts.scavengePauseMillis += pause;
      continue;
    }
    counts.markCompacts += 1;
    counts.markCompactPauseMillis += pause;
    counts.freedMb.push(Number((Number(gc[3]) - Number(gc[4])).toFixed(1)));
    const steps = stepsPart.exec(gc[6] as string);
    if (steps !== null) {
      counts.incrementalStepMillis += Number(steps[1]);
      counts.biggestStepMillis = Math.max(counts.biggestStepMillis, Number(steps[2]));
    }
  }
  const [main, ...others] = [...isolates.entries()];
  const round = (counts: IsolateCounts): IsolateCounts => ({
    ...counts,
    scavengePauseMillis: Number(counts.scavengePauseMillis.toFixed(1)),
    markCompactPauseMillis: Number(counts.markCompactPauseMillis.toFixed(1)),
    incrementalStepMillis: Number(counts.incrementalStepMillis.toFixed(1)),
  });
  process.stdout.write(`${JSON.stringify({ file, main: main === undefined ? undefined : round(main[1]), others: others.map(([, counts]) => round(counts)) })}\n`);
}
