import { timingSafeEqual } from 'node:crypto';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { errorCatalogue, type Logger, type SlothErrorCode } from '@sloth/core';
import { remediationStates } from '@sloth/core';
import type { AuditStore, RemediationState } from './audit-store.js';
import type { DecisionResult, RemediationEngine } from './remediation-engine.js';

export interface ApiOptions {
  store: AuditStore;
  engine: RemediationEngine;
  /** token → caller name; empty with `insecureNoAuth`. */
  tokens: ReadonlyMap<string, string>;
  insecureNoAuth: boolean;
  logger: Logger;
}

function sendError(reply: FastifyReply, status: number, code: SlothErrorCode, message: string): FastifyReply {
  return reply.code(status).send({ code, message, help: errorCatalogue[code] });
}

function sameSecret(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && timingSafeEqual(left, right);
}

/** The caller name of a request's bearer token, or undefined when it has none that is valid. */
function caller(request: FastifyRequest, tokens: ReadonlyMap<string, string>): string | undefined {
  const header = request.headers.authorization;
  if (header === undefined || !header.startsWith('Bearer ')) return undefined;
  const presented = header.slice('Bearer '.length).trim();
  for (const [token, name] of tokens) if (sameSecret(presented, token)) return name;
  return undefined;
}

/**
 * The scheduler's HTTP API: list, show, approve and reject remediations.
 * Every route under `/api/v1/` needs a bearer token unless `insecureNoAuth`.
 */
export function buildApi(options: ApiOptions): FastifyInstance {
  const app = Fastify({ logger: false, bodyLimit: 64 * 1024 });

  app.addHook('onRequest', async (request, reply) => {
    if (!request.url.startsWith('/api/')) return;
    if (options.insecureNoAuth) {
      (request as FastifyRequest & { caller?: string }).caller = 'anonymous';
      return;
    }
    const name = caller(request, options.tokens);
    if (name === undefined) return sendError(reply, 401, 'SLOTH_ERR_AUTH', 'missing or invalid bearer token: send Authorization: Bearer <token> with a token from the scheduler configuration');
    (request as FastifyRequest & { caller?: string }).caller = name;
  });

  app.setErrorHandler((error: { statusCode?: number; message: string }, _request, reply) => {
    const status = error.statusCode ?? 500;
    if (status >= 500) options.logger.error({ err: error }, 'scheduler API error');
    return sendError(reply, status, status >= 500 ? 'SLOTH_ERR_INTERNAL' : 'SLOTH_ERR_BAD_REQUEST', error.message);
  });
  app.setNotFoundHandler((request, reply) => sendError(reply, 404, 'SLOTH_ERR_NOT_FOUND', `no route ${request.method} ${request.url}`));

  app.get('/healthz', async () => ({ status: 'ok' }));

  app.get<{ Querystring: { state?: string; agent?: string; playbook?: string; limit?: string } }>('/api/v1/remediations', async (request, reply) => {
    const { state, agent, playbook, limit } = request.query;
    if (state !== undefined && !(remediationStates as readonly string[]).includes(state)) {
      return sendError(reply, 400, 'SLOTH_ERR_BAD_REQUEST', `unknown state ${JSON.stringify(state)}; expected one of ${remediationStates.join(', ')}`);
    }
    const max = limit === undefined ? 100 : Number(limit);
    if (!Number.isInteger(max) || max < 1 || max > 10_000) return sendError(reply, 400, 'SLOTH_ERR_BAD_REQUEST', `limit must be an integer from 1 to 10000, got ${JSON.stringify(limit)}`);
    return { remediations: options.store.list({ state: state as RemediationState | undefined, agentId: agent, playbook, limit: max }) };
  });

  app.get<{ Params: { id: string } }>('/api/v1/remediations/:id', async (request, reply) => {
    const record = options.store.get(request.params.id);
    if (record === undefined) return sendError(reply, 404, 'SLOTH_ERR_NOT_FOUND', `no remediation with id ${JSON.stringify(request.params.id)}`);
    return record;
  });

  const decision = (result: DecisionResult, id: string, verb: string, reply: FastifyReply): unknown => {
    if (result.kind === 'not_found') return sendError(reply, 404, 'SLOTH_ERR_NOT_FOUND', `no remediation with id ${JSON.stringify(id)}`);
    if (result.kind === 'conflict') {
      return sendError(reply, 409, 'SLOTH_ERR_CONFLICT', `remediation ${id} cannot be ${verb}: it is ${result.record.state}, not pending_approval`);
    }
    return result.record;
  };

  const bodyText = (body: unknown, key: string): string | undefined => {
    if (body === null || typeof body !== 'object') return undefined;
    const value = (body as Record<string, unknown>)[key];
    return typeof value === 'string' && value.trim() !== '' ? value.trim() : undefined;
  };

  app.post<{ Params: { id: string } }>('/api/v1/remediations/:id/approve', async (request, reply) => {
    const by = bodyText(request.body, 'by') ?? (request as FastifyRequest & { caller?: string }).caller ?? 'anonymous';
    return decision(await options.engine.approve(request.params.id, by), request.params.id, 'approved', reply);
  });

  app.post<{ Params: { id: string } }>('/api/v1/remediations/:id/reject', async (request, reply) => {
    const by = bodyText(request.body, 'by') ?? (request as FastifyRequest & { caller?: string }).caller ?? 'anonymous';
    const reason = bodyText(request.body, 'reason') ?? null;
    return decision(await options.engine.reject(request.params.id, by, reason), request.params.id, 'rejected', reply);
  });

  return app;
}
