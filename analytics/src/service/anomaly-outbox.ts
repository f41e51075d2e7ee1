import type { Redis } from 'ioredis';
import { anomalyEventSchema, encodeJsonMessage, type AnomalyEvent } from '@sloth/core';
import type { AnalyticsMetrics } from './prometheus-metrics.js';

export interface AnomalyOutboxOptions {
  writer: Redis;
  samplesStream: string;
  anomaliesStream: string;
  /** Approximate cap of the anomalies stream (XADD MAXLEN ~). */
  maxLength: number;
  metrics: AnalyticsMetrics;
}

/**
 * Incident transitions of scored batches, published with the acknowledgement of the batch's entries
 * in one MULTI, oldest batch first. A batch is added after its samples changed the series' state:
 * if Redis fails, the batch stays here and is published before anything else is read, so its events
 * are not lost (a redelivered entry would be skipped as already seen).
 */
export class AnomalyOutbox {
  private readonly options: AnomalyOutboxOptions;
  private readonly unpublished: Array<{ events: AnomalyEvent[]; ids: string[]; group: string }> = [];
  private publishing: Promise<void> | undefined;

  constructor(options: AnomalyOutboxOptions) {
    this.options = options;
  }

  add(events: AnomalyEvent[], ids: string[], group: string): void {
    this.unpublished.push({ events, ids, group });
  }

  /** Publishes what is waiting; several shard loops call this, one publisher runs at a time. */
  async publishPending(): Promise<void> {
    while (this.publishing !== undefined) await this.publishing;
    this.publishing = this.publishUnpublished();
    try {
      await this.publishing;
    } finally {
      this.publishing = undefined;
    }
  }

  private async publishUnpublished(): Promise<void> {
    const { writer, samplesStream, anomaliesStream, maxLength, metrics } = this.options;
    while (this.unpublished.length > 0) {
      const { events, ids, group } = this.unpublished[0]!;
      const pipeline = writer.multi();
      for (const event of events) {
        pipeline.xadd(anomaliesStream, 'MAXLEN', '~', maxLength, '*', ...encodeJsonMessage(anomalyEventSchema.parse(event)));
      }
      if (ids.length > 0) pipeline.xack(samplesStream, group, ...ids);
      const results = await pipeline.exec();
      const failed = results?.find(([error]) => error !== null);
      if (results === null || failed !== undefined) throw new Error(`publishing anomaly events failed: ${failed?.[0]?.message ?? 'transaction aborted'}`);
      this.unpublished.shift();
      metrics.anomaliesPublished += events.length;
    }
  }
}
