import type { FastifyInstance } from 'fastify';
import { drainedAgentsResponseSchema, drainResponseSchema, HttpError, jsonResponses, placementDecisionSchema, taskRecordSchema, tasksResponseSchema } from '@sloth/core';
import { taskStates, type TaskState } from './spec.js';
import type { TaskService } from './task-service.js';

const listQuery = {
  type: 'object',
  properties: {
    state: { type: 'string', enum: [...taskStates] },
    limit: { type: 'integer', minimum: 1, maximum: 10_000 },
  },
  additionalProperties: false,
} as const;

/** How many known agent ids an "unknown agent" answer lists. */
const agentsNamed = 20;

/**
 * Refuses (404) a drain or undrain of an agent the collector does not know, so a typo does not
 * silently drain nothing; an undrain of an id still in the drained set is let through (cleaning up a
 * drain of an agent since removed). When the collector cannot be reached the picture is not
 * trusted: the change goes through and the answer says so (a drain during an outage must work).
 */
async function unknownAgentProblem(service: TaskService, agentId: string, undrain: boolean): Promise<string | undefined> {
  const agents = await service.inventory.agents(true);
  if (agents.some((a) => a.id === agentId)) return undefined;
  if (undrain && (await service.ledger.drained()).has(agentId)) return undefined;
  const stale = service.inventory.lastError;
  if (stale !== undefined) return `agent ${JSON.stringify(agentId)} is not in the last agent list the scheduler has, which is stale (${stale})`;
  const ids = agents.map((a) => a.id).sort();
  const named = ids.length === 0 ? 'the collector knows no agents' : `known agents: ${ids.slice(0, agentsNamed).join(', ')}${ids.length > agentsNamed ? `, … (${ids.length} in all)` : ''}`;
  throw new HttpError(404, 'SLOTH_ERR_NOT_FOUND', `no agent with id ${JSON.stringify(agentId)}; ${named}`);
}

/**
 * Task and placement routes of the scheduler API, all authenticated (the
 * kit's default): submit, dry-run plan, list, show, cancel, and drain or
 * undrain an agent. Bad input answers 400 `SLOTH_ERR_INPUT` naming every
 * problem, and nothing is queued.
 */
export function taskRoutes(service: TaskService): (app: FastifyInstance) => void {
  return (app) => {
    const caller = (request: { principal?: { name: string } }): string => request.principal?.name ?? 'anonymous';

    app.post('/api/v1/tasks', { schema: { response: jsonResponses({ 201: taskRecordSchema }) } }, async (request, reply) => {
      const record = await service.manager.submit(request.body, caller(request));
      return reply.code(201).send(record);
    });

    app.post('/api/v1/tasks/plan', { schema: { response: jsonResponses(placementDecisionSchema) } }, async (request) => service.manager.plan(request.body));

    app.get<{ Querystring: { state?: TaskState; limit?: number } }>('/api/v1/tasks', { schema: { querystring: listQuery, response: jsonResponses(tasksResponseSchema) } }, async (request) => ({
      tasks: await service.store.list({ state: request.query.state, limit: request.query.limit ?? 100 }),
    }));

    app.get<{ Params: { id: string } }>('/api/v1/tasks/:id', { schema: { response: jsonResponses(taskRecordSchema) } }, async (request) => {
      const record = await service.store.get(request.params.id);
      if (record === undefined) throw new HttpError(404, 'SLOTH_ERR_NOT_FOUND', `no task with id ${JSON.stringify(request.params.id)}`);
      return record;
    });

    app.post<{ Params: { id: string } }>('/api/v1/tasks/:id/cancel', { schema: { response: jsonResponses(taskRecordSchema) } }, async (request) => {
      const result = await service.manager.cancel(request.params.id, caller(request));
      if (result.kind === 'not_found') throw new HttpError(404, 'SLOTH_ERR_NOT_FOUND', `no task with id ${JSON.stringify(request.params.id)}`);
      if (result.kind === 'conflict') throw new HttpError(409, 'SLOTH_ERR_CONFLICT', `task ${request.params.id} has already ended (${result.record.state}); only a queued, waiting, placed, running or retrying task can be cancelled`);
      return result.record;
    });

    app.post<{ Params: { id: string } }>('/api/v1/agents/:id/drain', { schema: { response: jsonResponses(drainResponseSchema) } }, async (request) => {
      const agentId = request.params.id;
      const unknown = await unknownAgentProblem(service, agentId, false);
      await service.ledger.setDrained(agentId, true);
      service.inventory.applyDrain(agentId, true);
      return { agentId, drained: true, message: `no new placements; tasks running there finish${unknown === undefined ? '' : ` (${unknown})`}` };
    });

    app.post<{ Params: { id: string } }>('/api/v1/agents/:id/undrain', { schema: { response: jsonResponses(drainResponseSchema) } }, async (request) => {
      const agentId = request.params.id;
      const unknown = await unknownAgentProblem(service, agentId, true);
      await service.ledger.setDrained(agentId, false);
      service.inventory.applyDrain(agentId, false);
      return { agentId, drained: false, ...(unknown === undefined ? {} : { message: unknown }) };
    });

    app.get('/api/v1/agents/drained', { schema: { response: jsonResponses(drainedAgentsResponseSchema) } }, async () => ({ agents: [...(await service.ledger.drained())].sort() }));
  };
}
