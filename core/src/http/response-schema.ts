import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { apiErrorBodySchema } from '../client/query-schemas.js';

/**
 * Fastify response schemas generated from the zod schemas the clients parse
 * with (`core/src/client/*-schemas.ts`): one source of truth, so what a
 * server may send and what a client accepts cannot drift apart.
 *
 * Fastify serialises with fast-json-stringify, which drops properties a
 * schema does not name: every schema here is a zod `looseObject`, whose JSON
 * schema allows other properties, so nothing a handler returns is lost.
 */

type JsonSchema = Record<string, unknown>;

const converted = new WeakMap<z.ZodType, JsonSchema>();

/**
 * The JSON schema of what a client's zod schema accepts (its input side:
 * a field with a default may be absent on the wire).
 */
export function jsonSchemaOf(schema: z.ZodType): JsonSchema {
  let json = converted.get(schema);
  if (json === undefined) {
    const { $schema: _dialect, ...rest } = z.toJSONSchema(schema, { io: 'input', target: 'draft-7' }) as JsonSchema;
    json = rest;
    converted.set(schema, json);
  }
  return json;
}

/** The one error body `{ code, message, details }`, as a JSON schema. */
export const errorBodyJsonSchema: JsonSchema = jsonSchemaOf(apiErrorBodySchema);

/**
 * A route's `schema.response`: its success bodies by status (200 when given
 * one schema) and the shared error body for every 4xx and 5xx.
 *
 * @example
 * app.get('/api/v1/agents', { schema: { response: jsonResponses(agentsResponseSchema) } }, handler);
 * app.post('/api/v1/silences', { schema: { body, response: jsonResponses({ 201: silenceResponseSchema }) } }, handler);
 */
export function jsonResponses(ok: z.ZodType | Readonly<Record<number, z.ZodType>>): Record<string, JsonSchema> {
  const success: Readonly<Record<number, z.ZodType>> = ok instanceof z.ZodType ? { 200: ok } : ok;
  const response: Record<string, JsonSchema> = {};
  for (const [status, schema] of Object.entries(success)) response[status] = jsonSchemaOf(schema);
  response['4xx'] = errorBodyJsonSchema;
  response['5xx'] = errorBodyJsonSchema;
  return response;
}

/** How a registered route answers, as {@link apiRoutes} reports it. */
export interface ApiRouteRecord {
  readonly method: string;
  readonly url: string;
  /**
   * `json`: declares its response schemas; `non-json`: declared exempt
   * (`config.nonJsonResponse` says what it sends instead); `missing`: a
   * JSON route without a response schema (a bug: fast-json-stringify is
   * not used and nothing checks what it sends).
   */
  readonly response: 'json' | 'non-json' | 'missing';
  /** The statuses with a schema, or why the route is exempt. */
  readonly detail: string;
}

const routesByApp = new WeakMap<FastifyInstance, ApiRouteRecord[]>();

/** Starts recording every route registered on an app made by createApi (its onRoute hook calls {@link recordRoute}). */
export function trackRoutes(app: FastifyInstance): ApiRouteRecord[] {
  const routes: ApiRouteRecord[] = [];
  routesByApp.set(app, routes);
  return routes;
}

/** Every route registered on an app made by `createApi`, with how it answers (for tests and audits). */
export function apiRoutes(app: FastifyInstance): readonly ApiRouteRecord[] {
  const routes = routesByApp.get(app);
  if (routes === undefined) throw new TypeError('apiRoutes() needs an app made by createApi');
  return routes;
}
