/**
 * Preload for the collector under `bench/ingest/run.ts`: where the main thread allocates what outlives
 * the young generation. V8's sampling heap profiler runs from the start with minor-GC'd objects left out
 * and major-GC'd ones kept, so its profile holds only the samples that were promoted (or are still
 * alive): what drives the old-space growth between mark-compacts. From SLOTH_PROMOTED_START_MS (default 0)
 * to SLOTH_PROMOTED_AFTER_MS (default 20,000) after start it samples, then writes the profile to
 * SLOTH_PROMOTED_PROFILE as JSON, read with
 * `npx tsx bench/ingest/promoted-summary.ts FILE`.
 *
 *   SLOTH_PROMOTED_PROFILE=/tmp/p.json npx tsx bench/ingest/run.ts --rate 75000 \
 *     --node-flags="--require /abs/path/bench/ingest/promoted-profile.cjs"
 *
 * The profiler samples on-heap objects (an ArrayBuffer counts as its small wrapper, not its backing
 * store), about one every SLOTH_PROMOTED_INTERVAL bytes (default 4096); it slows the collector.
 */
const { isMainThread } = require('node:worker_threads');
const { Session } = require('node:inspector');
const { writeFileSync } = require('node:fs');

const path = process.env.SLOTH_PROMOTED_PROFILE;
if (isMainThread && path !== undefined && path !== '') {
  const session = new Session();
  session.connect();
  const samplingInterval = Number(process.env.SLOTH_PROMOTED_INTERVAL ?? 4096);
  // Started late (SLOTH_PROMOTED_START_MS), the profile leaves out start-up and the series' first points.
  setTimeout(() => {
    session.post('HeapProfiler.startSampling', { samplingInterval, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: false }, (error) => {
      if (error) process.stderr.write(`promoted-profile: cannot start sampling: ${error.message}\n`);
    });
  }, Number(process.env.SLOTH_PROMOTED_START_MS ?? 0)).unref();
  setTimeout(() => {
    session.post('HeapProfiler.getSamplingProfile', (error, result) => {
      if (error) {
        process.stderr.write(`promoted-profile: ${error.message}\n`);
        return;
      }
      writeFileSync(path, JSON.stringify(result.profile));
      session.post('HeapProfiler.stopSampling', () => undefined);
    });
  }, Number(process.env.SLOTH_PROMOTED_AFTER_MS ?? 20_000)).unref();
}
