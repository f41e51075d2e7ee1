import { QueryClient } from '@sloth/core';

/** A past point of a series as the collector's query API returns it. */
export interface HistoryPoint {
  timestampMillis: number;
  value: number;
}

/** Outcome of one history request: expected remote failures are values, not exceptions. */
export type HistoryResult =
  | { ok: true; points: HistoryPoint[] }
  | { ok: false; retryable: boolean; reason: string };

/**
 * Reads a series' recent history through the collector's query API (the
 * typed {@link QueryClient}, `GET /api/v1/samples`), so a series the service
 * has never seen starts with a warmed-up detector and a forecastable history
 * instead of learning from scratch.
 */
export class CollectorHistory {
  private readonly client: QueryClient;

  constructor(baseUrl: string, token: string | undefined, timeoutMillis = 3_000) {
    this.client = new QueryClient({ baseUrl, timeoutMillis, ...(token === undefined ? {} : { token }) });
  }

  /** Points with `fromMillis ≤ t ≤ toMillis`, oldest first; points without a value are left out. */
  async fetch(seriesId: string, fromMillis: number, toMillis: number): Promise<HistoryResult> {
    const answer = await this.client.allSamples(seriesId, Math.floor(fromMillis), Math.floor(toMillis));
    if (!answer.ok) {
      // A series the collector has not stored yet simply has no history.
      if (answer.kind === 'not-found') return { ok: true, points: [] };
      return { ok: false, retryable: answer.retryable, reason: answer.message };
    }
    const points: HistoryPoint[] = [];
    for (const p of answer.value.points) {
      if (p.v !== null && Number.isFinite(p.t) && Number.isFinite(p.v)) points.push({ timestampMillis: p.t, value: p.v });
    }
    points.sort((a, b) => a.timestampMillis - b.timestampMillis);
    return { ok: true, points };
  }
}
