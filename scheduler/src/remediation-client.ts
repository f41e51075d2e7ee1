import type { z } from 'zod';
import { remediationRecordSchema, remediationsResponseSchema } from '@sloth/core';
import { SchedulerApiClient, type SchedulerApiResult } from './api-client.js';
import type { RemediationRecord } from './audit-store.js';

/** Outcome of one remediation API call. */
export type RemediationClientResult<T> = SchedulerApiResult<T>;

/** A small client of the scheduler's remediation API, used by `sloth remediation`. */
export class RemediationClient extends SchedulerApiClient {
  list(filter: { state?: string | undefined; agent?: string | undefined; playbook?: string | undefined; limit?: number | undefined } = {}): Promise<RemediationClientResult<RemediationRecord[]>> {
    const query = new URLSearchParams();
    for (const [key, value] of Object.entries(filter)) if (value !== undefined) query.set(key, String(value));
    const suffix = query.size > 0 ? `?${query.toString()}` : '';
    return this.call<{ remediations: RemediationRecord[] }, RemediationRecord[]>('GET', `/api/v1/remediations${suffix}`, undefined, (body) => body.remediations, remediationsResponseSchema);
  }

  show(id: string): Promise<RemediationClientResult<RemediationRecord>> {
    return this.call('GET', `/api/v1/remediations/${encodeURIComponent(id)}`, undefined, (body: RemediationRecord) => body, remediationRecordSchema);
  }

  approve(id: string, by: string | undefined): Promise<RemediationClientResult<RemediationRecord>> {
    return this.call('POST', `/api/v1/remediations/${encodeURIComponent(id)}/approve`, by === undefined ? {} : { by }, (body: RemediationRecord) => body, remediationRecordSchema);
  }

  reject(id: string, by: string | undefined, reason: string | undefined): Promise<RemediationClientResult<RemediationRecord>> {
    const body: Record<string, string> = {};
    if (by !== undefined) body.by = by;
    if (reason !== undefined) body.reason = reason;
    return this.call('POST', `/api/v1/remediations/${encodeURIComponent(id)}/reject`, body, (value: RemediationRecord) => value, remediationRecordSchema);
  }

  private async call<B, T>(method: string, path: string, body: unknown, pick: (body: B) => T, schema: z.ZodType): Promise<RemediationClientResult<T>> {
    const result = await this.request<B>(method, path, body, schema);
    return result.kind === 'ok' ? { kind: 'ok', value: pick(result.value) } : result;
  }
}
