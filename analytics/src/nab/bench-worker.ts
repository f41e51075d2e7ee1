import { parentPort } from 'node:worker_threads';
import { detectFile } from '../detector/detect-file.js';
import { applyTuningOverrides } from '../detector/tuning.js';
import type { BenchJob, BenchWorkerMessage } from './bench-runner.js';

// One NAB file at a time per worker thread; progress is reported in rows.
const port = parentPort;
if (port !== null) {
  port.on('message', (job: BenchJob) => {
    const send = (message: BenchWorkerMessage): void => port.postMessage(message);
    applyTuningOverrides(job.tuningOverrides);
    detectFile(job.inputPath, job.outputPath, {
      detector: job.detector,
      detectorOptions: job.detectorOptions,
      onProgress: (rowsDone) => send({ kind: 'progress', name: job.name, rowsDone }),
    }).then(
      (result) => send({ kind: 'done', name: job.name, rows: result.rows }),
      (error: unknown) => send({ kind: 'failed', name: job.name, message: error instanceof Error ? error.message : String(error) }),
    );
  });
}
