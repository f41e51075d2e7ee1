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
  private readonly url: string;
  private readonly headers: Readonly<Record<string, string>>;

  constructor(
    url: string,
    headers: Readonly<Record<string, string>>,
    private readonly timeoutMillis: number,
  ) {
    // fetch refuses a URL with a user name or password, and its error repeats the URL whole, password included,
    // into every "sending failed" log line: send them as HTTP Basic authentication instead (unless headers hold one).
    const parsed = new URL(url);
    const hasAuthorization = Object.keys(headers).some((name) => name.toLowerCase() === 'authorization');
    if (parsed.username !== '' || parsed.password !== '') {
      const basic = Buffer.from(`${decodeURIComponent(parsed.username)}:${decodeURIComponent(parsed.password)}`).toString('base64');
      parsed.username = '';
      parsed.password = '';
      this.headers = hasAuthorization ? headers : { ...headers, authorization: `Basic ${basic}` };
    } else {
      this.headers = headers;
    }
    this.url = parsed.toString();
  }

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
