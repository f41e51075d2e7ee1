import type { HttpPolicy } from './types.js';

export interface HttpRequest {
  method: 'GET' | 'POST';
  url: string;
  headers: Record<string, string>;
  body?: string;
  timeoutMillis: number;
}

export interface HttpResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** The URL's origin only: what may appear in logs, errors and audit (paths and queries can hold secrets). */
export function redactUrl(url: URL): string {
  return `${url.protocol}//${url.host}`;
}

/** Parses and checks a URL against the host allow-list; errors never echo the path or query. */
export function checkUrl(raw: string, policy: HttpPolicy): { url: URL } | { error: string } {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return { error: 'http: the URL is not valid' };
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return { error: `http: scheme '${url.protocol}' is not allowed (http and https only)` };
  if (url.username !== '' || url.password !== '') return { error: 'http: credentials in the URL are not allowed; use headers' };
  const hostname = url.hostname.replace(/^\[|\]$/g, '');
  const allowed = policy.allowHosts.some((entry) => entry === url.host || entry === hostname);
  if (!allowed) return { error: `http: host '${url.host}' is not on the http allow-list` };
  return { url };
}

export async function httpRequest(url: URL, request: HttpRequest, policy: HttpPolicy, signal?: AbortSignal): Promise<HttpResponse | { error: string }> {
  const maxBytes = policy.maxResponseBytes ?? 1024 * 1024;
  const timeout = AbortSignal.timeout(request.timeoutMillis);
  try {
    const response = await fetch(url, {
      method: request.method,
      headers: request.headers,
      body: request.body,
      redirect: 'manual',
      signal: signal === undefined ? timeout : AbortSignal.any([timeout, signal]),
    });
    const buffer = await readCapped(response, maxBytes);
    const headers: Record<string, string> = {};
    response.headers.forEach((value, key) => {
      headers[key] = value;
    });
    return { status: response.status, headers, body: buffer.toString('utf8') };
  } catch (error) {
    const name = error instanceof Error ? error.name : '';
    if (name === 'TimeoutError') return { error: `http: ${request.method} ${redactUrl(url)} timed out after ${request.timeoutMillis} ms` };
    return { error: `http: ${request.method} ${redactUrl(url)} failed (${name || 'error'})` };
  }
}

/** Reads at most `maxBytes` of a body, then stops reading (a huge response must not fill the host's memory). */
async function readCapped(response: Response, maxBytes: number): Promise<Buffer> {
  if (response.body === null) return Buffer.alloc(0);
  const chunks: Buffer[] = [];
  let total = 0;
  const reader = response.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(Buffer.from(value));
    total += value.byteLength;
    if (total >= maxBytes) {
      await reader.cancel();
      break;
    }
  }
  return Buffer.concat(chunks).subarray(0, maxBytes);
}
