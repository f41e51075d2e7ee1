/**
 * The outcome of sending one OTLP request, as a union: success, a retryable
 * answer (collector down, 429/502/503/504) with the delay the collector asked
 * for, or a failure that retrying will not fix (400/401/413 …) with its reason.
 */
export type SendResult =
  | { readonly kind: 'success' }
  | { readonly kind: 'retryable'; readonly reason: string; readonly retryAfterMillis?: number }
  | { readonly kind: 'failure'; readonly status: number; readonly reason: string };

/** Statuses the collector uses to say "later". */
export const retryableStatuses: ReadonlySet<number> = new Set([429, 502, 503, 504]);

/** Parses `Retry-After` (delta seconds or an HTTP date) into milliseconds from `nowMillis`. */
export function parseRetryAfter(header: string | null, nowMillis: number = Date.now()): number | undefined {
  if (header === null) return undefined;
  const text = header.trim();
  if (text === '') return undefined;
  if (/^\d+(\.\d+)?$/.test(text)) return Math.round(Number(text) * 1000);
  const date = Date.parse(text);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, date - nowMillis);
}
