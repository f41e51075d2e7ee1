/**
 * Preload for the collector under `bench/ingest/run.ts`: every 2 s each
 * thread (the main thread and the store writer) prints its V8 heap, by
 * space, to stderr; the main thread adds the process's RSS split into
 * anonymous and file-backed memory, and its array buffers (MB).
 *
 *   npx tsx bench/ingest/run.ts --rate 75000 --node-flags="--require ./bench/ingest/memory-trace.cjs" 2> memory.log
 *
 * Worker threads inherit the flag, so the writer thread reports too (t1).
 */
const v8 = require('node:v8');
const { isMainThread, threadId } = require('node:worker_threads');
const { readFileSync, writeSync } = require('node:fs');

const started = Date.now();
const mb = (bytes) => Math.round(bytes / 1e6);

setInterval(() => {
  const heap = v8.getHeapStatistics();
  const spaces = Object.fromEntries(v8.getHeapSpaceStatistics().map((s) => [s.space_name.replace('_space', ''), mb(s.physical_space_size)]));
  let line = `${((Date.now() - started) / 1000).toFixed(0)}s t${threadId} heapCommitted=${mb(heap.total_physical_size)} used=${mb(heap.used_heap_size)} external=${mb(heap.external_memory)} spaces=${JSON.stringify(spaces)}`;
  if (isMainThread) {
    const status = readFileSync('/proc/self/status', 'utf8');
    const kb = (key) => Number(new RegExp(`${key}:\\s+(\\d+)`).exec(status)?.[1] ?? 0) / 1024;
    line += ` rss=${Math.round(kb('VmRSS'))} anon=${Math.round(kb('RssAnon'))} file=${Math.round(kb('RssFile'))} arrayBuffers=${mb(process.memoryUsage().arrayBuffers)}`;
  }
  writeSync(2, `${line}\n`);
}, 2000).unref();
