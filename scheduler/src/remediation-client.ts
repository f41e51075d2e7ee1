import type { RemediationRecord } from './audit-store.js';

/** Outcome of one API call: the value, an error answer from the scheduler, or no answer at all. */
export type RemediationClientResult<T> =
  | { kind: 'ok'; value: T }
  | { kind: 'error'; status: number; code: string; message: string }
  | { kind: 'unreachable'; message: string };

/** A small client of the scheduler's remediation API, used by `sloth remediation`. */
export class RemediationClient {
  private readonly baseUrl: string;
  private readonly token: string | undefined;
  private readonly timeoutMillis: number;

  /** @param timeoutMillis @defaultValue 10000 */
  constructor(options: { baseUrl: string; token?: string | undefined; timeoutMillis?: number }) {
    this.baseUrl = options.baseUrl.replace(/\/+$/, '');
    this.token = options.token;
    this.timeoutMillis = options.timeoutMillis ?? 10_000;
  }

  list(filter: { state?: string | undefined; agent?: string | undefined; playbook?: string | undefined; limit?: number | undefined } = {}): Promise<RemediationClientResult<RemediationRecord[]>> {
    const query = new URLSearchParams();
    for (const [key, value] of Object.entries(filter)) if (value !== undefined) query.set(key, String(value));
    const suffix = query.size > 0 ? `?${query.toString()}` : '';
    return this.call<{ remediations: RemediationRecord[] }, RemediationRecord[]>('GET', `/api/v1/remediations${suffix}`, undefined, (body) => body.remediations);
  }

  show(id: string): Promise<RemediationClientResult<RemediationRecord>> {
    return this.call('GET', `/api/v1/remediations/${encodeURIComponent(id)}`, undefined, (body: RemediationRecord) => body);
  }

  approve(id: string, by: string | undefined): Promise<RemediationClientResult<RemediationRecord>> {
    return this.call('POST', `/api/v1/remediations/${encodeURIComponent(id)}/approve`, by === undefined ? {} : { by }, (body: RemediationRecord) => body);
  }

  reject(id: string, by: string | undefined, reason: string | undefined): Promise<RemediationClientResult<RemediationRecord>> {
    const body: Record<string, string> = {};
    if (by !== undefined) body.by = by;
    if (reason !== undefined) body.reason = reason;
    return this.call('POST', `/api/v1/remediations/${encodeURIComponent(id)}/reject`, body, (value: RemediationRecord) => value);
  }

  private async call<B, T>(method: string, path: string, body: unknown, pick: (body: B) => T): Promise<RemediationClientResult<T>> {
    const headers: Record<string, string> = {};
    if (this.token !== undefined) headers.authorization = `Bearer ${this.token}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    let response: Response;
    try {
      response = await fetch(`${this.baseUrl}${path}`, {
        method,
        headers,
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        signal: AbortSignal.timeout(this.timeoutMillis),
      });
    } catch (error) {
      const cause = (error as { cause?: { code?: string; message?: string } }).cause;
      return { kind: 'unreachable', message: `cannot reach the scheduler API at ${this.baseUrl}: ${cause?.code ?? cause?.message ?? (error as Error).message}` };
    }
    const text = await response.text();
    let parsed: unknown;
    try {
      parsed = text === '' ? {} : JSON.parse(text);
    } catch {
      parsed = { message: text };
    }
    if (!response.ok) {
      const error = parsed as { code?: string; message?: string };
      return { kind: 'error', status: response.status, code: error.code ?? `HTTP_${response.status}`, message: error.message ?? response.statusText };
    }
    return { kind: 'ok', value: pick(parsed as B) };
  }
}
