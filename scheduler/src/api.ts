import type { FastifyInstance, FastifyRequest } from 'fastify';
import { createApi, healthResponseSchema, HttpError, jsonResponses, remediationRecordSchema, remediationStates, remediationsResponseSchema, TokenSet, type Logger } from '@sloth/core';
import type { AuditStore, RemediationState } from './audit-store.js';
import type { DecisionResult, RemediationEngine } from './remediation-engine.js';

/**
 * Adds routes to the scheduler API. Routes are authenticated unless they
 * declare `config: { auth: 'public' }`; the caller is `request.principal.name`;
 * errors are thrown as core's `HttpError` (the body is `{ code, message, details }`).
 *
 * @example
 * export const taskRoutes: ApiRoutes = (app) => {
 *   app.get('/api/v1/tasks', async (request) => ({ tasks: list(), caller: request.principal?.name }));
 * };
 * buildApi({ ..., routes: [taskRoutes] });
 */
export type ApiRoutes = (app: FastifyInstance) => void;

export interface ApiOptions {
  store: AuditStore;
  engine: RemediationEngine;
  /** token → caller name; empty with `insecureNoAuth`. */
  tokens: ReadonlyMap<string, string>;
  insecureNoAuth: boolean;
  logger: Logger;
  /** More routes (tasks, scaling), each registered on the same app, same rules. */
  routes?: readonly ApiRoutes[];
}

const listQuery = {
  type: 'object',
  properties: {
    state: { type: 'string', enum: [...remediationStates] },
    agent: { type: 'string', minLength: 1 },
    playbook: { type: 'string', minLength: 1 },
    limit: { type: 'integer', minimum: 1, maximum: 10_000 },
  },
  additionalProperties: false,
} as const;

const decisionBody = {
  type: ['object', 'null'],
  properties: {
    /** Accepted only when it names the caller's own token (older clients send it). */
    by: { type: 'string', maxLength: 200 },
    reason: { type: 'string', maxLength: 2000 },
  },
  additionalProperties: false,
} as const;

/**
 * The scheduler's HTTP API: list, show, approve and reject remediations, on
 * core's `createApi`. Every route needs a token except `/healthz`; whoever
 * approves or rejects is the name of the token that asked, never a name in
 * the body.
 */
export function buildApi(options: ApiOptions): FastifyInstance {
  const tokens = new TokenSet(
    [...options.tokens].map(([token, name]) => ({ token, name })),
    { insecureNoAuth: options.insecureNoAuth },
  );
  const app = createApi({ name: 'scheduler', tokens, logger: options.logger, bodyLimitBytes: 64 * 1024 });

  app.get('/healthz', { config: { auth: 'public' }, schema: { response: jsonResponses(healthResponseSchema) } }, async () => ({ status: 'ok' }));

  app.get<{ Querystring: { state?: RemediationState; agent?: string; playbook?: string; limit?: number } }>(
    '/api/v1/remediations',
    { schema: { querystring: listQuery, response: jsonResponses(remediationsResponseSchema) } },
    async (request) => {
      const { state, agent, playbook, limit } = request.query;
      return { remediations: options.store.list({ state, agentId: agent, playbook, limit: limit ?? 100 }) };
    },
  );

  app.get<{ Params: { id: string } }>('/api/v1/remediations/:id', { schema: { response: jsonResponses(remediationRecordSchema) } }, async (request) => {
    const record = options.store.get(request.params.id);
    if (record === undefined) throw new HttpError(404, 'SLOTH_ERR_NOT_FOUND', `no remediation with id ${JSON.stringify(request.params.id)}`, { id: request.params.id });
    return record;
  });

  const decision = (result: DecisionResult, id: string, verb: string): unknown => {
    if (result.kind === 'not_found') throw new HttpError(404, 'SLOTH_ERR_NOT_FOUND', `no remediation with id ${JSON.stringify(id)}`, { id });
    if (result.kind === 'conflict') {
      throw new HttpError(409, 'SLOTH_ERR_CONFLICT', `remediation ${id} cannot be ${verb}: it is ${result.record.state}, not pending_approval`, { id, state: result.record.state });
    }
    return result.record;
  };

  type Decision = { Params: { id: string }; Body: { by?: string; reason?: string } | null | undefined };

  /** The approver: the token's name. With authentication off nobody is known, so the body's `by` is all there is. */
  const approver = (request: FastifyRequest<Decision>): string => {
    const principal = request.principal;
    const claimed = request.body?.by?.trim();
    if (principal === undefined || (options.insecureNoAuth && principal.name === 'anonymous')) return claimed === undefined || claimed === '' ? 'anonymous' : claimed;
    if (claimed !== undefined && claimed !== '' && claimed !== principal.name) {
      throw new HttpError(400, 'SLOTH_ERR_BAD_REQUEST', `"by" = ${JSON.stringify(claimed)} is not the caller: decisions are recorded under the token's name "${principal.name}"; leave "by" out`, {
        by: claimed,
        principal: principal.name,
      });
    }
    return principal.name;
  };

  const decide = { schema: { body: decisionBody, response: jsonResponses(remediationRecordSchema) } };
  app.post<Decision>('/api/v1/remediations/:id/approve', decide, async (request) =>
    decision(await options.engine.approve(request.params.id, approver(request)), request.params.id, 'approved'),
  );

  app.post<Decision>('/api/v1/remediations/:id/reject', decide, async (request) => {
    const reason = request.body?.reason?.trim();
    return decision(await options.engine.reject(request.params.id, approver(request), reason === undefined || reason === '' ? null : reason), request.params.id, 'rejected');
  });

  for (const register of options.routes ?? []) register(app);
  return app;
}
