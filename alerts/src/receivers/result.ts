/** Outcome of one delivery attempt to a remote receiver. */
export type DeliveryResult =
  | { readonly kind: 'success'; readonly detail?: string }
  | { readonly kind: 'retryable'; readonly reason: string; readonly retryAfterMillis?: number | undefined }
  | { readonly kind: 'failure'; readonly reason: string };

export interface HttpAnswer {
  readonly status: number;
  readonly headers: Headers;
  readonly body: string;
}

/**
 * POSTs a body and classifies the answer. The reason never carries the URL
 * (webhook URLs are secrets): only the status or the network error code.
 * `signal` cancels the request (the role is shutting down).
 */
export async function post(url: string, body: string, headers: Record<string, string>, options: { signal?: AbortSignal | undefined; timeoutMillis?: number } = {}): Promise<{ answer: HttpAnswer; result: DeliveryResult }> {
  const timeoutMillis = options.timeoutMillis ?? 10_000;
  const timeout = AbortSignal.timeout(timeoutMillis);
  let response: Response;
  try {
    response = await fetch(url, { method: 'POST', body, headers, signal: options.signal === undefined ? timeout : AbortSignal.any([options.signal, timeout]) });
  } catch (error) {
    const cause = (error as { cause?: { code?: string } }).cause;
    const name = (error as Error).name;
    const reason = name === 'TimeoutError' ? `no answer within ${timeoutMillis} ms` : name === 'AbortError' ? 'cancelled: the alerts role is stopping' : `network error ${cause?.code ?? name}`;
    return { answer: { status: 0, headers: new Headers(), body: '' }, result: { kind: 'retryable', reason } };
  }
  const text = await response.text().catch(() => '');
  const answer = { status: response.status, headers: response.headers, body: text };
  return { answer, result: classify(answer) };
}

export function classify(answer: HttpAnswer): DeliveryResult {
  const { status } = answer;
  if (status >= 200 && status < 300) return { kind: 'success' };
  const snippet = answer.body.slice(0, 120).replace(/\s+/g, ' ');
  if (status === 429 || status === 408 || status >= 500) {
    return { kind: 'retryable', reason: `HTTP ${status}${snippet === '' ? '' : `: ${snippet}`}`, retryAfterMillis: retryAfterMillis(answer.headers.get('retry-after')) };
  }
  return { kind: 'failure', reason: `HTTP ${status}${snippet === '' ? '' : `: ${snippet}`}` };
}

/** `Retry-After` in seconds or as an HTTP date. */
export function retryAfterMillis(header: string | null, nowMillis = Date.now()): number | undefined {
  if (header === null || header.trim() === '') return undefined;
  if (/^\d+(\.\d+)?$/.test(header.trim())) return Number(header) * 1000;
  const date = Date.parse(header);
  return Number.isNaN(date) ? undefined : Math.max(0, date - nowMillis);
}
