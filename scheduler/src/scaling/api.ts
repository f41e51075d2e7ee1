import type { FastifyInstance } from 'fastify';
import { HttpError, jsonResponses, scalingDecisionsResponseSchema, scalingTargetsResponseSchema } from '@sloth/core';
import type { ScalingController } from './controller.js';

const limitQuery = { type: 'object', properties: { limit: { type: 'integer', minimum: 1, maximum: 1000 } }, additionalProperties: false } as const;

/** Scaling routes of the scheduler API (authenticated, the kit's default): targets with their last decision, and a target's decision history. */
export function scalingRoutes(controller: ScalingController): (app: FastifyInstance) => void {
  return (app) => {
    app.get('/api/v1/scaling', { schema: { response: jsonResponses(scalingTargetsResponseSchema) } }, async () => ({
      targets: await Promise.all(
        controller.targets.map(async (t) => ({ name: t.name, mode: t.mode, demandSeries: t.demandSeries, minReplicas: t.minReplicas, maxReplicas: t.maxReplicas, lastDecision: (await controller.history(t.name, 1))[0] ?? null })),
      ),
    }));

    app.get<{ Params: { name: string }; Querystring: { limit?: number } }>('/api/v1/scaling/:name/decisions', { schema: { querystring: limitQuery, response: jsonResponses(scalingDecisionsResponseSchema) } }, async (request) => {
      if (!controller.targets.some((t) => t.name === request.params.name)) {
        throw new HttpError(404, 'SLOTH_ERR_NOT_FOUND', `no scaling target ${JSON.stringify(request.params.name)}; configured: ${controller.targets.map((t) => t.name).join(', ') || 'none'}`);
      }
      return { decisions: await controller.history(request.params.name, request.query.limit ?? 100) };
    });
  };
}
