import { parentPort, workerData } from 'node:worker_threads';
import { createLogger, silentLogger } from '@sloth/core/logger';
import type { MetricSeries } from '../records.js';
import { StringInterner } from '../series-cache.js';
import { SqliteStore } from './sqlite-store.js';
import { unpackBatch, type FromWorker, type ToWorker, type WorkerOptions } from './store-writer-protocol.js';

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

/**
 * Every series the main thread has defined, by its number. Kept for the life
 * of the thread (one small object per series): a series that retention
 * removed while points for it were on their way is simply created again.
 */
const definitions: MetricSeries[] = [];
/** Each definition arrives with its own copies of the metric name, agent id and label values. */
const strings = new StringInterner();

function seriesOf(ref: number): MetricSeries {
  const series = definitions[ref];
  if (series === undefined) throw new Error(`the store writer got a point of series number ${ref}, which was never defined`);
  return series;
}

port.on('message', (message: ToWorker) => {
  switch (message.type) {
    case 'write': {
      for (const d of message.series) definitions[d.ref] = strings.series(d.series);
      try {
        store.write(
          message.batches.map((b) => unpackBatch(b, seriesOf)),
          message.checkpoint,
        );
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
