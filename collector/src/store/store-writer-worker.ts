import { parentPort, workerData } from 'node:worker_threads';
import { createLogger, parseSeriesId, silentLogger, type MetricKind } from '@sloth/core';
import { SqliteStore } from './sqlite-store.js';
import type { FromWorker, SeriesDefinition, ToWorker, WorkerOptions } from './store-writer-protocol.js';

/**
 * The write side of the store, in its own thread: it owns the SQLite write
 * connection (and retention), so inserts run on the second core while the
 * main thread decodes requests.
 */

const port = parentPort;
if (port === null) throw new Error('store-writer-worker must run in a worker thread');
const options = workerData as WorkerOptions;
const post = (message: FromWorker): void => port.postMessage(message);

let store: SqliteStore;
try {
  const logLevel = options.logLevel ?? 'silent';
  const logger = logLevel === 'silent' ? silentLogger() : createLogger({ name: 'collector-store-writer', level: logLevel });
  store = SqliteStore.open({ logger, dataDir: options.dataDir, retentionMillis: options.retentionMillis, pruneIntervalMillis: options.pruneIntervalMillis ?? 60_000, ...(options.cacheMb === undefined ? {} : { cacheMb: options.cacheMb }) });
} catch (error) {
  post({ type: 'opened-failed', message: (error as Error).message });
  process.exit(1);
}
store.onSeriesRemoved((keys) => post({ type: 'removed', keys }));

/** Definitions received but not yet stored (kept across a failed write so its retry can create the series). */
const definitions = new Map<string, SeriesDefinition>();

function definitionOf(key: string, histogram: boolean): SeriesDefinition {
  const known = definitions.get(key);
  if (known !== undefined) return known;
  // Only when retention removed a series while points for it were on their way: rebuild what the key holds.
  const ref = parseSeriesId(key);
  const kind: MetricKind = histogram ? 'histogram' : 'gauge';
  return { key, name: ref.name, labels: ref.labels, agentId: ref.labels.agent ?? '', kind, unit: '', description: '', monotonic: false };
}

port.on('message', (message: ToWorker) => {
  switch (message.type) {
    case 'write': {
      for (const d of message.series) definitions.set(d.key, d);
      try {
        store.writePacked(message.batches, definitionOf, message.checkpoint);
        for (const d of message.series) if (store.hasSeries(d.key)) definitions.delete(d.key);
        post({ type: 'done', id: message.id });
      } catch (error) {
        post({ type: 'failed', id: message.id, message: (error as Error).message });
      }
      return;
    }
    case 'putAgents':
    case 'setAgentState':
      try {
        if (message.type === 'putAgents') store.putAgents(message.agents);
        else store.setAgentState(message.agentId, message.state);
      } catch (error) {
        post({ type: 'warn', message: `cannot persist agents: ${(error as Error).message}` });
      }
      return;
    case 'prune':
      try {
        post({ type: 'done', id: message.id, result: store.pruneOlderThan(message.cutoffMillis) });
      } catch (error) {
        post({ type: 'failed', id: message.id, message: (error as Error).message });
      }
      return;
    case 'close':
      store.close();
      port.close();
      return;
  }
});

post({ type: 'ready' });
