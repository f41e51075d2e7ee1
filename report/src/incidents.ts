import { Redis } from 'ioredis';
import { z } from 'zod';
import { anomalyEventSchema, redactUrl, redisKeys } from '@sloth/core';
import type { IncidentRecord, Source } from './data.js';

/** An entry of `sloth:anomalies`: an anomaly plus its incident transition (ARCHITECTURE.md). */
const incidentEntrySchema = anomalyEventSchema.extend({
  incidentId: z.string(),
  state: z.enum(['open', 'update', 'resolved']),
  direction: z.string().default(''),
});

export interface IncidentQuery {
  readonly redisUrl: string;
  /** @defaultValue sloth */
  readonly redisPrefix?: string;
  readonly fromMillis: number;
  readonly toMillis: number;
  /** @defaultValue 5000 */
  readonly timeoutMillis?: number;
}

/**
 * Incidents analytics published on the anomalies stream, grouped by incident
 * id, those opened in `[fromMillis, toMillis]`. Stream ids are arrival times,
 * not event times, so the stream (capped by analytics) is read in pages and
 * filtered by the events' own times. Entries that do not parse are skipped.
 */
export async function readIncidents(query: IncidentQuery): Promise<Source<IncidentRecord>> {
  const key = redisKeys(query.redisPrefix ?? 'sloth').anomalies;
  const redis = new Redis(query.redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1, connectTimeout: query.timeoutMillis ?? 5_000, retryStrategy: () => null });
  redis.on('error', () => undefined);
  try {
    await redis.connect();
  } catch (error) {
    redis.disconnect();
    return { available: false, reason: `Redis at ${redactUrl(query.redisUrl)} did not answer (${(error as Error).message})` };
  }
  try {
    const incidents = new Map<string, { record: IncidentRecord; opened: boolean }>();
    let start = '-';
    for (;;) {
      const page = await redis.xrange(key, start, '+', 'COUNT', 1000);
      for (const [, fields] of page) {
        const at = fields.indexOf('data');
        if (at < 0) continue;
        let entry: z.infer<typeof incidentEntrySchema>;
        try {
          entry = incidentEntrySchema.parse(JSON.parse(fields[at + 1] ?? ''));
        } catch {
          continue;
        }
        const known = incidents.get(entry.incidentId);
        const record: IncidentRecord = {
          incidentId: entry.incidentId,
          seriesId: entry.seriesId,
          agentId: entry.agentId,
          metric: entry.metric,
          openedAtMillis: entry.state === 'open' || known === undefined ? entry.timestampMillis : known.record.openedAtMillis,
          resolvedAtMillis: entry.state === 'resolved' ? entry.timestampMillis : (known?.record.resolvedAtMillis ?? null),
          maxScore: Math.max(entry.score, known?.record.maxScore ?? 0),
          direction: entry.direction === '' ? (known?.record.direction ?? '') : entry.direction,
        };
        incidents.set(entry.incidentId, { record, opened: known?.opened === true || entry.state === 'open' });
      }
      if (page.length < 1000) break;
      const lastId = page[page.length - 1]?.[0] as string;
      start = `(${lastId}`;
    }
    const items = [...incidents.values()].map((i) => i.record).filter((r) => r.openedAtMillis >= query.fromMillis && r.openedAtMillis <= query.toMillis);
    return { available: true, items };
  } finally {
    redis.disconnect();
  }
}
