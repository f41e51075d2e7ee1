import { drainedAgentsResponseSchema, drainResponseSchema, placementDecisionSchema, taskRecordSchema, tasksResponseSchema } from '@sloth/core';
import { SchedulerApiClient, type SchedulerApiResult } from '../api-client.js';
import type { PlacementDecision } from '../placement/placer.js';
import type { TaskRecord } from './spec.js';

/** Outcome of one task API call. */
export type TaskClientResult<T> = SchedulerApiResult<T>;

/** A small client of the scheduler's task API, used by `sloth task` and `sloth agent drain`. */
export class TaskClient extends SchedulerApiClient {
  submit(spec: unknown): Promise<TaskClientResult<TaskRecord>> {
    return this.request('POST', '/api/v1/tasks', spec, taskRecordSchema);
  }

  plan(spec: unknown): Promise<TaskClientResult<PlacementDecision>> {
    return this.request('POST', '/api/v1/tasks/plan', spec, placementDecisionSchema);
  }

  async list(filter: { state?: string | undefined; limit?: number | undefined } = {}): Promise<TaskClientResult<TaskRecord[]>> {
    const query = new URLSearchParams();
    if (filter.state !== undefined) query.set('state', filter.state);
    if (filter.limit !== undefined) query.set('limit', String(filter.limit));
    const result = await this.request<{ tasks: TaskRecord[] }>('GET', `/api/v1/tasks${query.size > 0 ? `?${query.toString()}` : ''}`, undefined, tasksResponseSchema);
    return result.kind === 'ok' ? { kind: 'ok', value: result.value.tasks } : result;
  }

  show(id: string): Promise<TaskClientResult<TaskRecord>> {
    return this.request('GET', `/api/v1/tasks/${encodeURIComponent(id)}`, undefined, taskRecordSchema);
  }

  cancel(id: string): Promise<TaskClientResult<TaskRecord>> {
    return this.request('POST', `/api/v1/tasks/${encodeURIComponent(id)}/cancel`, {}, taskRecordSchema);
  }

  drain(agentId: string, drained: boolean): Promise<TaskClientResult<{ agentId: string; drained: boolean; message?: string | undefined }>> {
    return this.request('POST', `/api/v1/agents/${encodeURIComponent(agentId)}/${drained ? 'drain' : 'undrain'}`, {}, drainResponseSchema);
  }

  async drained(): Promise<TaskClientResult<string[]>> {
    const result = await this.request<{ agents: string[] }>('GET', '/api/v1/agents/drained', undefined, drainedAgentsResponseSchema);
    return result.kind === 'ok' ? { kind: 'ok', value: result.value.agents } : result;
  }
}
