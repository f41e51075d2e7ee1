import { remoteWriteHeaders } from './write-request.js';

/** What one remote-write request came to: the result union senders act on (retry, drop, go on). */
export type SendResult =
  | { readonly kind: 'success' }
  /** 5xx, 429 or no answer: send the same samples again after a backoff (at least `retryAfterMillis`). */
  | { readonly kind: 'retryable'; readonly reason: string; readonly retryAfterMillis?: number }
  /** Any other 4xx: the remote will never take these samples. */
  | { readonly kind: 'failure'; readonly reason: string };

/**
 * One remote-write endpoint: POSTs encoded WriteRequests with the 1.0
 * headers plus the configured ones (which may hold credentials: they are
 * never logged, and neither is the URL's password).
 */
export class RemoteEndpoint {
  constructor(
    private readonly url: string,
    private readonly headers: Readonly<Record<string, string>>,
    private readonly timeoutMillis: number,
  ) {}

  async send(body: Uint8Array, abort: AbortSignal): Promise<SendResult> {
    let response: Response;
    try {
      response = await fetch(this.url, {
        method: 'POST',
        headers: { ...this.headers, ...remoteWriteHeaders, 'user-agent': 'sloth-collector' },
        body,
        signal: AbortSignal.any([abort, AbortSignal.timeout(this.timeoutMillis)]),
      });
    } catch (error) {
      const cause = (error as { cause?: { code?: string } }).cause?.code;
      return { kind: 'retryable', reason: `no answer (${cause ?? (error as Error).name}: ${(error as Error).message})` };
    }
    // Read the body either way, so the connection can be reused.
    const text = await response.text().catch(() => '');
    if (response.ok) return { kind: 'success' };
    const reason = `HTTP ${response.status}${text === '' ? '' : `: ${text.slice(0, 300).trim()}`}`;
    if (response.status === 429 || response.status >= 500) {
      const retryAfterSeconds = Number(response.headers.get('retry-after'));
      return Number.isFinite(retryAfterSeconds) && retryAfterSeconds > 0 ? { kind: 'retryable', reason, retryAfterMillis: retryAfterSeconds * 1000 } : { kind: 'retryable', reason };
    }
    return { kind: 'failure', reason };
  }
}
