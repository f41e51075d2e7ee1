import { parentPort } from 'node:worker_threads';
import * as vega from 'vega';
import { compile } from 'vega-lite';
import type { ChartJob } from './chart-specs.js';

/** Parsed Vega runtimes by spec: a report has a handful of chart kinds and hundreds of charts. */
const runtimes = new Map<string, vega.Runtime>();

/** Renders a chart to SVG off the main thread (vega's `renderer: 'none'` + `toSVG()`). */
async function render(job: ChartJob): Promise<string> {
  const key = JSON.stringify(job.spec);
  let runtime = runtimes.get(key);
  if (runtime === undefined) {
    runtime = vega.parse(compile(job.spec).spec);
    runtimes.set(key, runtime);
  }
  const view = new vega.View(runtime, { renderer: 'none' });
  try {
    for (const [name, values] of Object.entries(job.data)) view.data(name, values as object[]);
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

parentPort?.on('message', (message: { id: number; job: ChartJob }) => {
  render(message.job).then(
    (svg) => parentPort?.postMessage({ id: message.id, svg }),
    (error: unknown) => parentPort?.postMessage({ id: message.id, error: error instanceof Error ? error.message : String(error) }),
  );
});
