import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { InputError, SlothError } from '@sloth/core';
import type { DetectorOptions } from '../detector/contract.js';
import { detectFile, type DetectorName } from '../detector/detect-file.js';
import { listCsvFiles, readNabWindows, readResultsCorpus } from './corpus-files.js';
import { scoreNabCorpus, type NabProfileScore } from './corpus-score.js';

/** One file for a bench worker. */
export interface BenchJob {
  name: string;
  inputPath: string;
  outputPath: string;
  detector: DetectorName;
  detectorOptions: Partial<DetectorOptions>;
  /** JSON overrides of the detector's tuning constants (exploration only), applied in the worker. */
  tuningOverrides?: string;
}

/** Messages from a bench worker. */
export type BenchWorkerMessage =
  | { kind: 'progress'; name: string; rowsDone: number }
  | { kind: 'done'; name: string; rows: number }
  | { kind: 'failed'; name: string; message: string };

/** Options of {@link runNabDetection}. */
export interface NabDetectionOptions {
  dataDir: string;
  outDir: string;
  /** @defaultValue 'sloth' */
  detector: DetectorName;
  detectorOptions: Partial<DetectorOptions>;
  /** Worker threads; 1 runs in this thread. @defaultValue available cores */
  concurrency: number;
  /** Called with rows done and total rows. */
  onProgress?: (rowsDone: number, rowsTotal: number) => void;
  /** JSON overrides of the tuning constants for worker threads (the caller applies them in its own thread). */
  tuningOverrides?: string;
}

async function countRows(path: string): Promise<number> {
  const text = await readFile(path, 'utf8');
  let n = 0;
  for (let i = 0; i < text.length; i += 1) if (text.charCodeAt(i) === 10) n += 1;
  return Math.max(0, n - 1);
}

/**
 * Runs the detector over every CSV under `dataDir` (in worker threads, largest files first) and
 * writes NAB result files at the same relative paths under `outDir`. Returns the relative paths.
 */
export async function runNabDetection(options: Partial<NabDetectionOptions> & Pick<NabDetectionOptions, 'dataDir' | 'outDir'>): Promise<string[]> {
  if (!existsSync(options.dataDir)) throw new InputError(`data directory ${options.dataDir} does not exist`);
  const names = await listCsvFiles(options.dataDir);
  if (names.length === 0) throw new InputError(`no .csv files under ${options.dataDir}`);
  const sizes = new Map<string, number>();
  for (const name of names) sizes.set(name, await countRows(join(options.dataDir, name)));
  const total = [...sizes.values()].reduce((a, b) => a + b, 0);
  const jobs: BenchJob[] = [...names]
    .sort((a, b) => (sizes.get(b) ?? 0) - (sizes.get(a) ?? 0))
    .map((name) => ({
      name,
      inputPath: join(options.dataDir, name),
      outputPath: join(options.outDir, name),
      detector: options.detector ?? 'sloth',
      detectorOptions: options.detectorOptions ?? {},
      ...(options.tuningOverrides === undefined ? {} : { tuningOverrides: options.tuningOverrides }),
    }));
  const progress = new Map<string, number>();
  const report = (): void => options.onProgress?.([...progress.values()].reduce((a, b) => a + b, 0), total);
  const workerUrl = new URL('./bench-worker.js', import.meta.url);
  const concurrency = Math.max(1, Math.min(options.concurrency ?? availableParallelism(), jobs.length));
  // Worker threads need the compiled JS; from TypeScript sources (tests) the files run in this thread.
  if (concurrency === 1 || !existsSync(fileURLToPath(workerUrl))) {
    for (const job of jobs) {
      await detectFile(job.inputPath, job.outputPath, {
        detector: job.detector,
        detectorOptions: job.detectorOptions,
        onProgress: (rowsDone) => {
          progress.set(job.name, rowsDone);
          report();
        },
      });
      progress.set(job.name, sizes.get(job.name) ?? 0);
      report();
    }
    return names;
  }
  const queue = [...jobs];
  const failures: string[] = [];
  await Promise.all(
    Array.from({ length: concurrency }, () =>
      new Promise<void>((resolve, reject) => {
        const worker = new Worker(workerUrl);
        const next = (): void => {
          const job = queue.shift();
          if (job === undefined) {
            void worker.terminate().then(() => resolve());
            return;
          }
          worker.postMessage(job);
        };
        worker.on('message', (message: BenchWorkerMessage) => {
          if (message.kind === 'progress') progress.set(message.name, message.rowsDone);
          else {
            if (message.kind === 'failed') failures.push(`${message.name}: ${message.message}`);
            progress.set(message.name, sizes.get(message.name) ?? 0);
            next();
          }
          report();
        });
        worker.on('error', reject);
        next();
      }),
    ),
  );
  if (failures.length > 0) throw new SlothError('SLOTH_ERR_INPUT', `detection failed for ${failures.length} file(s):\n  ${failures.join('\n  ')}`);
  return names;
}

/**
 * Scores a NAB results directory against a windows file for the three profiles. With `onlyFiles`,
 * labels of other files are ignored (a subset of the corpus was run).
 */
export async function scoreNabResults(resultsDir: string, labelsPath: string, onlyFiles?: readonly string[]): Promise<NabProfileScore[]> {
  if (!existsSync(resultsDir)) throw new InputError(`results directory ${resultsDir} does not exist`);
  const windows = await readNabWindows(labelsPath);
  if (onlyFiles !== undefined) {
    const keep = new Set(onlyFiles);
    for (const name of [...windows.keys()]) if (!keep.has(name)) windows.delete(name);
  }
  if (windows.size === 0) throw new InputError(`${labelsPath} labels none of the scored files`);
  return scoreNabCorpus(await readResultsCorpus(resultsDir, windows));
}
