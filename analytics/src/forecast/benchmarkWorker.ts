import { parentPort } from 'node:worker_threads';
import { benchSeries, type ForecastBenchSettings } from './benchmark.js';

// Worker side of runForecastBench: one series per message, the result (or the error text) back.
parentPort?.on('message', (message: { file: string; settings: ForecastBenchSettings }) => {
  benchSeries(message.file, message.settings).then(
    (result) => parentPort?.postMessage({ result }),
    (error: unknown) => parentPort?.postMessage({ error: error instanceof Error ? error.message : String(error) }),
  );
});
