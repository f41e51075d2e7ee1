/**
 * Preload for the collector under `bench/ingest/run.ts`: how much external memory (ArrayBuffer
 * backing stores: request bodies, typed arrays, encoded buffers) the main thread allocates, and where
 * V8's collections happen against it. V8 starts a full (mark-compact) collection when its external
 * memory counter passes the value at the last mark-compact plus 64 MB; young buffers only leave that
 * counter when a scavenge frees them. So a main thread that allocates many external bytes per request
 * and few on-heap bytes gets full collections it would not get from its old space.
 *
 *   SLOTH_EXTERNAL_TRACE=/tmp/ext.log npx tsx bench/ingest/run.ts --rate 75000 \
 *     --node-flags="--require ./bench/ingest/external-trace.cjs"
 *
 * Every 5 ms it reads V8's external memory counter; the sum of its rises is what was allocated (frees
 * come in bulk after scavenges). Each GC (perf_hooks) is a line `gc <ms> <kind> <duration ms> <external
 * MB before>`, and every second a line `s <ms> <allocated MB so far> <external MB now>`; the main thread only.
 */
const v8 = require('node:v8');
const { isMainThread } = require('node:worker_threads');
const { PerformanceObserver, performance, constants } = require('node:perf_hooks');
const { openSync, writeSync } = require('node:fs');

const path = process.env.SLOTH_EXTERNAL_TRACE;
if (isMainThread && path !== undefined && path !== '') {
  const fd = openSync(path, 'w');
  const kinds = { [constants.NODE_PERFORMANCE_GC_MINOR]: 'minor', [constants.NODE_PERFORMANCE_GC_MAJOR]: 'major', [constants.NODE_PERFORMANCE_GC_INCREMENTAL]: 'incremental', [constants.NODE_PERFORMANCE_GC_WEAKCB]: 'weakcb' };
  let last = v8.getHeapStatistics().external_memory;
  let allocated = 0;
  const sample = () => {
    const now = v8.getHeapStatistics().external_memory;
    if (now > last) allocated += now - last;
    last = now;
  };
  setInterval(sample, 5).unref();
  setInterval(() => {
    sample();
    writeSync(fd, `s ${performance.now().toFixed(0)} ${(allocated / 1048576).toFixed(1)} ${(last / 1048576).toFixed(1)}\n`);
  }, 1000).unref();
  new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      writeSync(fd, `gc ${entry.startTime.toFixed(1)} ${kinds[entry.detail?.kind ?? entry.kind] ?? 'other'} ${entry.duration.toFixed(2)} ${(last / 1048576).toFixed(1)}\n`);
    }
  }).observe({ entryTypes: ['gc'] });
}
