import { parentPort, workerData } from 'node:worker_threads';
import { createLogger, silentLogger } from '@sloth/core/logger';
import type { MetricSeries } from '../records.js';
import { StringInterner } from '../series-cache.js';
import { SqliteStore } from './sqlite-store.js';
import { unpackBatch, type FromWorker, type PackedBatch, type ToWorker, type WorkerOptions } from './store-writer-protocol.js';

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

/**
 * The in-memory head: appended writes held as they arrived (column-wise, ~20 bytes a point) and
 * committed together in one transaction, with the checkpoint of the last one. The store keeps one
 * chunk per series per transaction, so holding writes for a few seconds turns many small chunk rows
 * (each an insert and an index update) into few large ones. Nothing held is acknowledged only here:
 * every held write is in the write-ahead log, which is released only up to the committed checkpoint,
 * so a crash replays the head.
 */
class Head {
  private batches: PackedBatch[] = [];
  private points = 0;
  private checkpoint = 0;
  /** When the oldest held write arrived (Date.now()). */
  private since = 0;
  /** The message of the last failed commit, until one succeeds. */
  private failing: string | undefined;

  constructor(
    private readonly maxPoints: number,
    private readonly maxMillis: number,
  ) {}

  get full(): boolean {
    return this.points >= this.maxPoints;
  }

  get due(): boolean {
    return this.batches.length > 0 && (this.full || Date.now() - this.since >= this.maxMillis);
  }

  hold(batches: readonly PackedBatch[], checkpoint: number): void {
    if (this.batches.length === 0) this.since = Date.now();
    for (const batch of batches) {
      this.batches.push(batch);
      this.points += batch.refs.length + batch.spans.length + batch.logs.length;
    }
    this.checkpoint = checkpoint;
  }

  /** Takes back the last `count` batches held and restores the checkpoint (a write that failed as a whole). */
  drop(count: number, checkpoint: number): void {
    for (const batch of this.batches.splice(this.batches.length - count, count)) this.points -= batch.refs.length + batch.spans.length + batch.logs.length;
    this.checkpoint = checkpoint;
  }

  get heldCheckpoint(): number {
    return this.checkpoint;
  }

  /** Commits everything held in one transaction; throws (keeping it all) when the store fails. */
  commit(): void {
    if (this.batches.length === 0) return;
    try {
      store.write(
        this.batches.map((b) => unpackBatch(b, seriesOf)),
        this.checkpoint,
      );
    } catch (error) {
      const text = (error as Error).message;
      // Once per failing spell: the timer retries every tick, and a full disk fails every retry.
      if (this.failing === undefined) {
        post({
          type: 'error',
          message: `store commit failed (${store.path}): ${text}; the ${this.points} points held stay in the write-ahead log and the commit is retried (free space or fix the disk there)`,
        });
      }
      this.failing = text;
      throw error;
    }
    if (this.failing !== undefined) post({ type: 'warn', message: `store commits succeed again (${store.path})` });
    this.failing = undefined;
    this.batches = [];
    this.points = 0;
    post({ type: 'committed', checkpoint: this.checkpoint });
  }
}

const head = new Head(options.headMaxPoints, options.headMaxMillis);
/** Persisting agents failed last time (logged once until it works again). */
let agentsFailing = false;
const headTimer = setInterval(
  () => {
    if (!head.due) return;
    try {
      head.commit();
    } catch {
      // reported by commit; retried at the next tick or write
    }
  },
  Math.max(10, Math.min(1_000, options.headMaxMillis / 4)),
);

port.on('message', (message: ToWorker) => {
  switch (message.type) {
    case 'append': {
      for (const d of message.series) definitions[d.ref] = strings.series(d.series);
      try {
        // A full head (its commit failing) takes nothing more: the caller keeps the write and retries.
        if (head.full) head.commit();
      } catch (error) {
        post({ type: 'failed', id: message.id, message: (error as Error).message });
        return;
      }
      head.hold(message.batches, message.checkpoint);
      if (head.full) {
        try {
          head.commit();
        } catch {
          // held; retried by the timer or the next append
        }
      }
      post({ type: 'done', id: message.id });
      return;
    }
    case 'write': {
      // Committed at once, with everything held before it.
      for (const d of message.series) definitions[d.ref] = strings.series(d.series);
      const previous = head.heldCheckpoint;
      head.hold(message.batches, message.checkpoint);
      try {
        head.commit();
        post({ type: 'done', id: message.id });
      } catch (error) {
        head.drop(message.batches.length, previous);
        post({ type: 'failed', id: message.id, message: (error as Error).message });
      }
      return;
    }
    case 'flush':
      try {
        head.commit();
        post({ type: 'done', id: message.id });
      } catch (error) {
        post({ type: 'failed', id: message.id, message: (error as Error).message });
      }
      return;
    case 'putAgents':
    case 'setAgentState':
      try {
        if (message.type === 'putAgents') store.putAgents(message.agents);
        else store.setAgentState(message.agentId, message.state);
        if (agentsFailing) post({ type: 'warn', message: 'agents are persisted again' });
        agentsFailing = false;
      } catch (error) {
        // Once per failing spell: the registry persists every few seconds.
        if (!agentsFailing) post({ type: 'warn', message: `cannot persist agents (${store.path}): ${(error as Error).message}; retried with the next change` });
        agentsFailing = true;
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
      clearInterval(headTimer);
      try {
        head.commit();
      } catch {
        // left in the write-ahead log: replayed at the next start
      }
      store.close();
      port.close();
      return;
  }
});

post({ type: 'ready' });
