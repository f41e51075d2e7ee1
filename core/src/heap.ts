import { setFlagsFromString } from 'node:v8';
import { processEnv } from './config.js';

/** Percent V8 may grow the heap over the live data after a full GC; see `limitHeapGrowth`. */
const heapGrowthPercent = 30;

/**
 * Keeps a long-running role's memory close to what it actually holds. After
 * each full GC, V8 lets the heap grow to a multiple of the live data (up to
 * 4× on a machine with this much memory) before it collects again; services
 * that allocate steadily then sit at two to three times their live size. With
 * growth capped at 30 %, the collector at 75,000 points/s peaked at 262–276 MB
 * RSS instead of 304–396 MB, at the same CPU per point (docs/benchmarks.md,
 * "Ingest"). V8 reads this flag each time it recomputes the heap limit, so
 * setting it at run time takes effect; one given in NODE_OPTIONS or on the
 * node command line wins. It is process-wide (worker threads included), so
 * only entry points call it: `sloth collector` (with its own `heapGrowingPercent`),
 * `sloth agent`, `sloth up` and `sloth-agent`.
 */
export function limitHeapGrowth(percent = heapGrowthPercent): void {
  if (!(Number.isInteger(percent) && percent > 0)) throw new Error(`heap growth must be a positive whole percent, got ${percent}`);
  const given = [...process.execArgv, processEnv().NODE_OPTIONS ?? ''].some((arg) => /heap[-_]growing[-_]percent/.test(arg));
  if (!given) setFlagsFromString(`--heap-growing-percent=${percent}`);
}
