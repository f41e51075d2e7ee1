import { redactUrl } from '@sloth/core';

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
 * Reads a series' recent history from the collector's query API
 * (`GET /api/v1/samples?series=&from=&to=`, bearer token), so a series the
 * service has never seen starts with a warmed-up detector and a forecastable
 * history instead of learning from scratch.
 */
export class CollectorHistory {
  private readonly baseUrl: string;

  constructor(
    baseUrl: string,
    private readonly token: string | undefined,
    private readonly timeoutMillis = 3_000,
  ) {
    this.baseUrl = baseUrl.replace(/\/+$/, '');
  }

  /** Points with `fromMillis ≤ t ≤ toMillis`, oldest first; points without a value are left out. */
  async fetch(seriesId: string, fromMillis: number, toMillis: number): Promise<HistoryResult> {
    const url = `${this.baseUrl}/api/v1/samples?series=${encodeURIComponent(seriesId)}&from=${Math.floor(fromMillis)}&to=${Math.floor(toMillis)}`;
    let response: Response;
    try {
      response = await fetch(url, {
        headers: this.token === undefined ? {} : { authorization: `Bearer ${this.token}` },
        signal: AbortSignal.timeout(this.timeoutMillis),
      });
    } catch (error) {
      return { ok: false, retryable: true, reason: `collector ${redactUrl(this.baseUrl)} did not answer: ${(error as Error).message}` };
    }
    if (response.status === 404) {
      await response.body?.cancel();
      return { ok: true, points: [] };
    }
    if (!response.ok) {
      const text = (await response.text().catch(() => '')).slice(0, 200);
      return { ok: false, retryable: response.status >= 500 || response.status === 429, reason: `collector answered ${response.status}: ${text}` };
    }
    let body: unknown;
    try {
      body = await response.json();
    } catch (error) {
      return { ok: false, retryable: false, reason: `collector sent a body that is not JSON: ${(error as Error).message}` };
    }
    const raw = (body as { points?: unknown } | null)?.points;
    if (!Array.isArray(raw)) return { ok: false, retryable: false, reason: 'collector response has no "points" array' };
    const points: HistoryPoint[] = [];
    for (const p of raw as Array<{ t?: unknown; v?: unknown }>) {
      if (typeof p?.t === 'number' && typeof p.v === 'number' && Number.isFinite(p.t) && Number.isFinite(p.v)) points.push({ timestampMillis: p.t, value: p.v });
    }
    points.sort((a, b) => a.timestampMillis - b.timestampMillis);
    return { ok: true, points };
  }
}
