import type { PlacementDecision } from '../placement/placer.js';
import type { TaskRecord } from './spec.js';

/** Outcome of one API call: the value, an error answer from the scheduler, or no answer at all. */
export type TaskClientResult<T> = { kind: 'ok'; value: T } | { kind: 'error'; status: number; code: string; message: string } | { kind: 'unreachable'; message: string };

/** A small client of the scheduler's task API, used by `sloth task` and `sloth agent drain`. */
export class TaskClient {
  private readonly baseUrl: string;
  private readonly token: string | undefined;
  private readonly timeoutMillis: number;

  /** @param timeoutMillis @defaultValue 10000 */
  constructor(options: { baseUrl: string; token?: string | undefined; timeoutMillis?: number }) {
    this.baseUrl = options.baseUrl.replace(/\/+$/, '');
    this.token = options.token;
    this.timeoutMillis = options.timeoutMillis ?? 10_000;
  }

  submit(spec: unknown): Promise<TaskClientResult<TaskRecord>> {
    return this.call('POST', '/api/v1/tasks', spec);
  }

  plan(spec: unknown): Promise<TaskClientResult<PlacementDecision>> {
    return this.call('POST', '/api/v1/tasks/plan', spec);
  }

  async list(filter: { state?: string | undefined; limit?: number | undefined } = {}): Promise<TaskClientResult<TaskRecord[]>> {
    const query = new URLSearchParams();
    if (filter.state !== undefined) query.set('state', filter.state);
    if (filter.limit !== undefined) query.set('limit', String(filter.limit));
    const result = await this.call<{ tasks: TaskRecord[] }>('GET', `/api/v1/tasks${query.size > 0 ? `?${query.toString()}` : ''}`, undefined);
    return result.kind === 'ok' ? { kind: 'ok', value: result.value.tasks } : result;
  }

  show(id: string): Promise<TaskClientResult<TaskRecord>> {
    return this.call('GET', `/api/v1/tasks/${encodeURIComponent(id)}`, undefined);
  }

  cancel(id: string): Promise<TaskClientResult<TaskRecord>> {
    return this.call('POST', `/api/v1/tasks/${encodeURIComponent(id)}/cancel`, {});
  }

  drain(agentId: string, drained: boolean): Promise<TaskClientResult<{ agentId: string; drained: boolean }>> {
    return this.call('POST', `/api/v1/agents/${encodeURIComponent(agentId)}/${drained ? 'drain' : 'undrain'}`, {});
  }

  private async call<T>(method: string, path: string, body: unknown): Promise<TaskClientResult<T>> {
    const headers: Record<string, string> = {};
    if (this.token !== undefined) headers.authorization = `Bearer ${this.token}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    let response: Response;
    try {
      response = await fetch(`${this.baseUrl}${path}`, { method, headers, ...(body === undefined ? {} : { body: JSON.stringify(body) }), signal: AbortSignal.timeout(this.timeoutMillis) });
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
    return { kind: 'ok', value: parsed as T };
  }
}
