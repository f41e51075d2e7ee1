import { parentPort } from 'node:worker_threads';
import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';

/** Renders Vega-Lite specs to SVG off the main thread (vega's `renderer: 'none'` + `toSVG()`). */
async function render(spec: TopLevelSpec): Promise<string> {
  const view = new vega.View(vega.parse(compile(spec).spec), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

parentPort?.on('message', (message: { id: number; spec: TopLevelSpec }) => {
  render(message.spec).then(
    (svg) => parentPort?.postMessage({ id: message.id, svg }),
    (error: unknown) => parentPort?.postMessage({ id: message.id, error: error instanceof Error ? error.message : String(error) }),
  );
});
