import { join } from 'node:path';
import type { Logger } from '@sloth/core';
import type { MetricColumns } from '../records.js';
import type { SelfMetrics } from '../self-metrics.js';
import type { RemoteWriteSettings } from './remote-write-config.js';
import { remoteName } from './remote-write-config.js';
import { RemoteWriter, type RemoteWriteSource } from './remote-writer.js';

/** Every configured remote-write endpoint: one writer each, fed the same durable requests. */
export class RemoteWriteSet {
  private readonly writers: RemoteWriter[];

  constructor(options: { remotes: readonly RemoteWriteSettings[]; source: RemoteWriteSource; dataDir: string; metrics: SelfMetrics; logger: Logger }) {
    const names = new Set<string>();
    this.writers = options.remotes.map((remote, index) => {
      const name = remote.name ?? remoteName(remote.url);
      if (names.has(name)) throw new Error(`remoteWrite[${index}]: a second remote named ${JSON.stringify(name)}; give each a distinct name`);
      names.add(name);
      return new RemoteWriter({
        name,
        url: remote.url,
        headers: remote.headers,
        queue: remote.queue,
        source: options.source,
        stateDir: join(options.dataDir, 'collector', 'remote-write'),
        logger: options.logger,
        onDelivered: (samples) => options.metrics.remoteWriteSamples.inc({ remote: name }, samples),
        onFailure: (kind, samples) => {
          options.metrics.remoteWriteFailures.inc({ remote: name, kind });
          if (kind === 'dropped') options.metrics.remoteWriteDropped.inc({ remote: name }, samples);
        },
      });
    });
    options.metrics.remoteWriteLag((set) => {
      const now = Date.now();
      for (const writer of this.writers) set(writer.name, writer.lagSeconds(now));
    });
  }

  get size(): number {
    return this.writers.length;
  }

  start(): void {
    for (const writer of this.writers) writer.start();
  }

  offer(seq: number, points: MetricColumns, receivedAtMillis: number): void {
    for (const writer of this.writers) writer.offer(seq, points, receivedAtMillis);
  }

  /** The WAL must keep every entry after this one. */
  retainAfter(): number {
    let floor = Number.POSITIVE_INFINITY;
    for (const writer of this.writers) floor = Math.min(floor, writer.deliveredSeq);
    return floor;
  }

  async shutdown(drainMillis?: number): Promise<void> {
    await Promise.all(this.writers.map((writer) => writer.shutdown(drainMillis)));
  }
}
