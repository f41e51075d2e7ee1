import type { z } from 'zod';

/** Outcome of one scheduler API call: the value, an error answer from the scheduler, or no answer at all. */
export type SchedulerApiResult<T> =
  | { kind: 'ok'; value: T }
  | { kind: 'error'; status: number; code: string; message: string }
  | { kind: 'unreachable'; message: string };

export interface SchedulerApiOptions {
  readonly baseUrl: string;
  readonly token?: string | undefined;
  /** @defaultValue 10000 */
  readonly timeoutMillis?: number;
}

/**
 * The HTTP part every client of the scheduler API shares (`sloth remediation`, `sloth task`): bearer
 * token, timeout, the standard error body, and "no answer" as a value rather than an exception.
 */
export class SchedulerApiClient {
  protected readonly baseUrl: string;
  private readonly token: string | undefined;
  private readonly timeoutMillis: number;

  constructor(options: SchedulerApiOptions) {
    this.baseUrl = options.baseUrl.replace(/\/+$/, '');
    this.token = options.token;
    this.timeoutMillis = options.timeoutMillis ?? 10_000;
  }

  /**
   * One call; a 2xx body is checked against `schema` (core's, the same the server's response schema is generated
   * from) and a body it does not accept is an error naming the field, not a value of the wrong shape.
   */
  protected async request<T>(method: string, path: string, body: unknown, schema?: z.ZodType): Promise<SchedulerApiResult<T>> {
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
    const checked = schema?.safeParse(parsed);
    if (checked !== undefined && !checked.success) {
      const issue = checked.error.issues[0];
      return {
        kind: 'error',
        status: response.status,
        code: 'BAD_RESPONSE',
        message: `the scheduler API answered ${method} ${path} with a body this client does not understand: ${issue?.path.join('.') || '(body)'}: ${issue?.message ?? 'invalid'}; are client and scheduler the same version?`,
      };
    }
    return { kind: 'ok', value: parsed as T };
  }
}
