import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { SlothError, silentLogger, type Logger } from '@sloth/core';
import type { IngestBatch, MetricSeries } from '../records.js';
import { SeriesObjects } from '../series-cache.js';
import { SqliteStore, type SqliteStoreOptions } from './sqlite-store.js';
import { packBatch, type FromWorker, type SeriesDefinition, type ToWorker, type WorkerOptions } from './store-writer-protocol.js';
import { defaultStoreCacheMb, type AgentRecord, type AgentState, type PruneResult } from './store-types.js';

/**
 * The store with its writes in a worker thread. `write()` returns a promise
 * that resolves once the batches and the checkpoint are committed (one
 * transaction, as with {@link SqliteStore.write}); reads go through
 * {@link reader}, a second connection on the same WAL-mode file, so the query
 * API never waits for a write. Series bookkeeping (`hasSeries`,
 * `seriesCount`) stays synchronous on the main thread and counts a series
 * as soon as it is handed to `write()`.
 */
export class StoreWriter {
  /** Read-only use: the query API, latest points at start, agents. */
  readonly reader: SqliteStore;
  private readonly worker: Worker;
  private readonly logger: Logger;
  private readonly seriesAgents = new Map<string, string>();
  private readonly seriesPerAgent = new Map<string, number>();
  private readonly pending = new Map<number, { resolve: (value: unknown) => void; reject: (error: Error) => void }>();
  private readonly removedListeners: Array<(keys: readonly string[]) => void> = [];
  private readonly committedListeners: Array<(checkpoint: number) => void> = [];
  private committed = 0;
  /** The series objects that hold a number, so retention can clear them. */
  private readonly numbered = new SeriesObjects();
  private nextRef = 1;
  private nextId = 1;
  private closed = false;
  /** Set when the writer thread died: every later write fails at once instead of waiting forever. */
  private failure: Error | undefined;
  private exited: Promise<void>;

  private constructor(reader: SqliteStore, worker: Worker, logger: Logger) {
    this.reader = reader;
    this.worker = worker;
    this.logger = logger;
    for (const [key, agentId] of reader.seriesKeys()) this.remember(key, agentId);
    this.exited = new Promise((resolve) => worker.once('exit', () => resolve()));
    worker.on('message', (message: FromWorker) => this.onMessage(message));
    worker.on('error', (error) => {
      this.logger.error({ err: error }, 'store writer thread failed');
      this.failure ??= new SlothError('SLOTH_ERR_STORAGE', `the store writer thread failed: ${error.message}`, { cause: error });
      this.failAll(this.failure);
    });
    worker.once('exit', (code) => {
      if (!this.closed) {
        this.logger.error({ code }, 'store writer thread exited');
        this.failure ??= new SlothError('SLOTH_ERR_STORAGE', `the store writer thread exited with code ${code}`);
        this.failAll(this.failure);
      }
    });
  }

  /** Opens the store (`<dataDir>/collector/sloth.db`) and starts its writer thread; retention runs in that thread. */
  static async open(options: SqliteStoreOptions & StoreHeadOptions): Promise<StoreWriter> {
    // The writer creates the schema first; the reader then opens the same file.
    const workerOptions: WorkerOptions = {
      dataDir: options.dataDir,
      headMaxPoints: options.headMaxPoints ?? defaultHeadMaxPoints,
      headMaxMillis: options.headMaxMillis ?? defaultHeadMaxMillis,
      retentionMillis: options.retentionMillis,
      ...(options.pruneIntervalMillis === undefined ? {} : { pruneIntervalMillis: options.pruneIntervalMillis }),
      ...(options.cacheMb === undefined ? {} : { cacheMb: options.cacheMb }),
      logLevel: options.logger?.level ?? 'silent',
    };
    const worker = spawnWorker(workerOptions);
    const opened = await new Promise<FromWorker>((resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
    });
    if (opened.type !== 'ready') {
      await worker.terminate();
      throw new SlothError('SLOTH_ERR_STORAGE', opened.type === 'opened-failed' ? opened.message : `unexpected message from the store writer: ${opened.type}`);
    }
    // Queries touch few pages; the writer's connection keeps the large cache.
    const reader = SqliteStore.open({ ...options, readonly: true, pruneIntervalMillis: 0, cacheMb: Math.min(options.cacheMb ?? defaultStoreCacheMb, 8) });
    return new StoreWriter(reader, worker, options.logger ?? silentLogger());
  }

  private remember(key: string, agentId: string): void {
    if (this.seriesAgents.has(key)) return;
    this.seriesAgents.set(key, agentId);
    this.seriesPerAgent.set(agentId, (this.seriesPerAgent.get(agentId) ?? 0) + 1);
  }

  private onMessage(message: FromWorker): void {
    switch (message.type) {
      case 'done':
      case 'failed': {
        const waiter = this.pending.get(message.id);
        this.pending.delete(message.id);
        if (message.type === 'done') waiter?.resolve(message.result);
        else waiter?.reject(new SlothError('SLOTH_ERR_STORAGE', message.message));
        return;
      }
      case 'removed':
        for (const key of message.keys) {
          // Its next point defines it again, so it is counted again.
          for (const series of this.numbered.take(key)) series.storeRef = 0;
          const agentId = this.seriesAgents.get(key);
          if (agentId === undefined) continue;
          this.seriesAgents.delete(key);
          const left = (this.seriesPerAgent.get(agentId) ?? 1) - 1;
          if (left <= 0) this.seriesPerAgent.delete(agentId);
          else this.seriesPerAgent.set(agentId, left);
        }
        this.notify(this.removedListeners, message.keys, 'series-removed');
        return;
      case 'committed':
        this.committed = Math.max(this.committed, message.checkpoint);
        this.notify(this.committedListeners, this.committed, 'store-committed');
        return;
      case 'warn':
        this.logger.warn(message.message);
        return;
      case 'error':
        this.logger.error(message.message);
        return;
      case 'ready':
      case 'opened-failed':
        return;
    }
  }

  /** Calls every listener; one that throws is logged and does not stop the others. */
  private notify<T>(listeners: ReadonlyArray<(value: T) => void>, value: T, what: string): void {
    for (const listener of listeners) {
      try {
        listener(value);
      } catch (error) {
        this.logger.error({ err: error }, `${what} listener failed`);
      }
    }
  }

  private failAll(error: Error): void {
    for (const waiter of this.pending.values()) waiter.reject(error);
    this.pending.clear();
  }

  private request(message: ToWorker & { id: number }): Promise<unknown> {
    if (this.closed) return Promise.reject(new SlothError('SLOTH_ERR_STORAGE', 'the store is closed'));
    if (this.failure !== undefined) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      this.pending.set(message.id, { resolve, reject });
      this.worker.postMessage(message);
    });
  }

  /**
   * Stores the batches and `checkpoint` in one transaction in the writer thread, together with
   * everything the head holds. Resolves once committed.
   */
  async write(batches: readonly IngestBatch[], checkpoint: number): Promise<void> {
    await this.send('write', batches, checkpoint);
  }

  /**
   * Hands the batches to the writer thread's in-memory head; resolves once it holds them. The head is
   * committed (with `checkpoint`, the last one handed over) once it holds {@link defaultHeadMaxPoints}
   * points or its oldest write has waited {@link defaultHeadMaxMillis}, or on {@link flush}; then
   * {@link onCommitted} listeners hear the checkpoint. Until then the caller must keep what it handed
   * over recoverable (the ingest pipeline keeps it in the write-ahead log). Rejects when the head is
   * full and cannot be committed (the store is failing).
   */
  async append(batches: readonly IngestBatch[], checkpoint: number): Promise<void> {
    await this.send('append', batches, checkpoint);
  }

  /** Commits what the head holds now; resolves once committed. */
  async flush(): Promise<void> {
    await this.request({ type: 'flush', id: this.nextId++ });
  }

  /** The highest checkpoint committed by this writer so far (0 before its first commit). */
  get committedCheckpoint(): number {
    return this.committed;
  }

  /** Calls `listener` with the checkpoint of every commit (the head's, a write's, a flush's). */
  onCommitted(listener: (checkpoint: number) => void): void {
    this.committedListeners.push(listener);
  }

  private async send(type: 'write' | 'append', batches: readonly IngestBatch[], checkpoint: number): Promise<void> {
    const series: SeriesDefinition[] = [];
    const refOf = (s: MetricSeries): number => {
      const known = s.storeRef ?? 0;
      if (known > 0) return known;
      const ref = this.nextRef++;
      s.storeRef = ref;
      const { key, name, labels, agentId, kind, unit, description, monotonic } = s;
      series.push({ ref, series: { key, name, labels, agentId, kind, unit, description, monotonic } });
      this.numbered.add(s);
      this.remember(key, agentId);
      return ref;
    };
    // The typed arrays are copied, not transferred: the batches stay valid for the caller.
    await this.request({ type, id: this.nextId++, checkpoint, series, batches: batches.map((b) => packBatch(b, refOf)) });
  }

  /** The checkpoint of the last committed write; 0 for a new store. */
  lastCheckpoint(): number {
    return this.reader.lastCheckpoint();
  }

  seriesCount(agentId?: string): number {
    return agentId === undefined ? this.seriesAgents.size : (this.seriesPerAgent.get(agentId) ?? 0);
  }

  hasSeries(seriesKey: string): boolean {
    return this.seriesAgents.has(seriesKey);
  }

  listAgents(): AgentRecord[] {
    return this.reader.listAgents();
  }

  putAgents(agents: readonly AgentRecord[]): void {
    if (!this.closed) this.worker.postMessage({ type: 'putAgents', agents } satisfies ToWorker);
  }

  setAgentState(agentId: string, state: AgentState): void {
    if (!this.closed) this.worker.postMessage({ type: 'setAgentState', agentId, state } satisfies ToWorker);
  }

  /** Runs retention now in the writer thread. */
  async pruneOlderThan(cutoffMillis: number): Promise<PruneResult> {
    return (await this.request({ type: 'prune', id: this.nextId++, cutoffMillis })) as PruneResult;
  }

  onSeriesRemoved(listener: (seriesKeys: readonly string[]) => void): void {
    this.removedListeners.push(listener);
  }

  /** Stops the writer thread at once, as a crash would (for tests of the failure path). */
  async terminateForTest(): Promise<void> {
    await this.worker.terminate();
  }

  /** Finishes queued writes, closes both connections and stops the thread. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.worker.postMessage({ type: 'close' } satisfies ToWorker);
    let timer: NodeJS.Timeout | undefined;
    const timedOut = await Promise.race([
      this.exited.then(() => false),
      new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(true), 30_000);
      }),
    ]);
    clearTimeout(timer);
    if (timedOut) await this.worker.terminate();
    this.failAll(new SlothError('SLOTH_ERR_STORAGE', 'the store was closed before this write finished'));
    this.reader.close();
  }
}

/** Settings of the writer thread's in-memory head (see {@link StoreWriter.append}). */
export interface StoreHeadOptions {
  /** @defaultValue {@link defaultHeadMaxPoints} */
  readonly headMaxPoints?: number;
  /** @defaultValue {@link defaultHeadMaxMillis} */
  readonly headMaxMillis?: number;
}

/**
 * Points the head holds before it commits: about 20 MB in the writer thread (~20 bytes a point),
 * 2.5 times the ingest queue's bound, so the head never holds more than a few transactions' worth.
 */
export const defaultHeadMaxPoints = 1_000_000;
/**
 * Longest a write waits in the head: what a crash replays from the write-ahead log at most (plus
 * the ingest queue), and one default agent interval (10 s), so a series gets at least one point per chunk
 * from each agent report. Queries do not wait for it: they flush the head first.
 */
export const defaultHeadMaxMillis = 10_000;

const writerYoungGenerationMb = 12;

function spawnWorker(workerData: WorkerOptions): Worker {
  const here = import.meta.url;
  // Built JS runs the sibling .js; the test suite runs TypeScript sources through tsx.
  const js = new URL('./store-writer-worker.js', here);
  if (here.endsWith('.ts') || !existsSync(fileURLToPath(js))) {
    const ts = new URL('./store-writer-worker.ts', here).href;
    return new Worker(`import('tsx/esm/api').then((tsx) => { tsx.register(); return import(${JSON.stringify(ts)}); })`, { eval: true, workerData });
  }
  // The writer keeps little between batches (series definitions, statements), and
  // the batches themselves arrive as typed arrays: a 12 MB young generation instead
  // of V8's default ~48 MB costs no measurable CPU (docs/benchmarks.md, Ingest).
  return new Worker(js, { workerData, resourceLimits: { maxYoungGenerationSizeMb: writerYoungGenerationMb } });
}
