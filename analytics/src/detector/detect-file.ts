import { mkdir, open, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { once } from 'node:events';
import type { Writable } from 'node:stream';
import { streamSeriesCsv, type BackwardsPolicy } from '../csv-series.js';
import type { DetectorOptions } from './contract.js';
import { updateAndTrain } from './run-series.js';
import { writeText } from '@sloth/core';
import { createDetector } from './series-detector.js';

/** Which detector writes the scores: Sloth's, or the null detector (always 0, NAB's baseline). */
export type DetectorName = 'sloth' | 'none';

/** Options of {@link detectFile}. */
export interface DetectFileOptions {
  /** @defaultValue 'sloth' */
  detector: DetectorName;
  detectorOptions: Partial<DetectorOptions>;
  /** @defaultValue 'keep' */
  backwards: BackwardsPolicy;
  /** Called every `progressEveryRows` rows with the rows done so far. */
  onProgress?: (rowsDone: number) => void;
  /** @defaultValue 2000 */
  progressEveryRows: number;
}

/** What {@link detectFile} did. */
export interface DetectFileResult {
  rows: number;
  /** Lines whose timestamp went back in time (kept or skipped per the policy). */
  backwardsLines: number[];
  /** Lines whose timestamp repeats the previous row's (scored in file order). */
  repeatedLines: number[];
  modelVersion: string;
}

/**
 * Streams a `timestamp,value` CSV through a fresh detector and writes
 * `timestamp,value,anomaly_score` (NAB's result format; timestamps echoed as written) to the file
 * `output`, or to a stream the caller owns (standard output: written, not ended).
 * Training requests are served in order before the next row, so the output is deterministic and causal.
 */
export async function detectFile(inputPath: string, output: string | Writable, options: Partial<DetectFileOptions> = {}): Promise<DetectFileResult> {
  const detectorName = options.detector ?? 'sloth';
  const progressEveryRows = options.progressEveryRows ?? 2000;
  const detector = createDetector(options.detectorOptions ?? {});
  const ownFile = typeof output === 'string';
  if (ownFile) await mkdir(dirname(output), { recursive: true });
  // A file is written beside its name and renamed over it only when complete: a run that fails (a bad row
  // half-way, a full disk) leaves an earlier output as it was, never a truncated one.
  const partial = ownFile ? join(dirname(output), `.${basename(output)}.${process.pid}.partial`) : undefined;
  // Opened before the stream is made, so a refusal (permissions, a name taken) is this call's rejection.
  const out = partial !== undefined ? (await open(partial, 'wx')).createWriteStream({ encoding: 'utf8' }) : (output as Writable);
  const backwardsLines: number[] = [];
  const repeatedLines: number[] = [];
  let rows = 0;
  let buffered = 'timestamp,value,anomaly_score\n';
  try {
    const input = streamSeriesCsv(inputPath, { backwards: options.backwards ?? 'keep', onBackwards: (line) => backwardsLines.push(line), onRepeated: (line) => repeatedLines.push(line) });
    for await (const row of input) {
      const score = detectorName === 'none' ? 0 : (await updateAndTrain(detector, row)).score;
      buffered += `${row.timestampText},${row.value},${score}\n`;
      rows += 1;
      // Core's writeText waits for each chunk to be taken and turns a write error (a closed pipe, a full disk) into a rejection.
      if (buffered.length > 65_536) {
        await writeText(out, buffered);
        buffered = '';
      }
      if (options.onProgress !== undefined && rows % progressEveryRows === 0) options.onProgress(rows);
    }
    await writeText(out, buffered);
    if (partial !== undefined) {
      out.end();
      await once(out, 'finish');
      await rename(partial, output as string);
    }
  } catch (error) {
    if (partial !== undefined) {
      out.destroy();
      await rm(partial, { force: true });
    }
    throw error;
  }
  return { rows, backwardsLines, repeatedLines, modelVersion: detector.modelVersion };
}
