import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { apiErrorBodySchema, apiRoutes, createApi, HttpError, jsonResponses, listenApi, silentLogger, TokenSet } from '../../src/index.js';

const thingSchema = z.looseObject({ id: z.string(), size: z.number().nullable(), labels: z.record(z.string(), z.string()).default({}) });
const thingsSchema = z.looseObject({ things: z.array(thingSchema) });

describe('createApi response schemas', () => {
  let app: FastifyInstance;
  let url: string;
  beforeAll(async () => {
    app = createApi({ name: 'test', tokens: new TokenSet([{ token: 'token-for-schema-tests', name: 'reader' }]), logger: silentLogger() });
    app.get('/healthz', { config: { auth: 'public' } }, async () => ({ status: 'ok' }));
    app.get('/api/v1/things', { schema: { response: jsonResponses(thingsSchema) } }, async () => ({
      // `extra` and `nested.deep` are not named by the schema: a loose object must carry them through fast-json-stringify.
      things: [{ id: 'a', size: null, extra: { nested: { deep: [1, 2] } } }, { id: 'b', size: 3, labels: { x: 'y' } }],
    }));
    app.post('/api/v1/things', { schema: { response: jsonResponses({ 201: thingSchema }) } }, async (_request, reply) => reply.code(201).send({ id: 'c', size: 1, labels: {} }));
    app.get('/api/v1/broken', { schema: { response: jsonResponses(thingSchema) } }, async () => {
      throw new HttpError(409, 'SLOTH_ERR_CONFLICT', 'thing c is busy', { id: 'c', attempts: 2 });
    });
    app.get('/metrics', { config: { auth: 'public', nonJsonResponse: 'Prometheus text' } }, async (_request, reply) => reply.type('text/plain').send('up 1\n'));
    url = (await listenApi(app, { port: 0, host: '127.0.0.1' })).url;
  });
  afterAll(async () => {
    await app.close();
  });

  it('records every route with how it answers, naming the JSON routes without a response schema', () => {
    const byRoute = new Map(apiRoutes(app).map((r) => [`${r.method} ${r.url}`, r]));
    expect(byRoute.get('GET /healthz')?.response).toBe('missing');
    expect(byRoute.get('GET /api/v1/things')).toEqual({ method: 'GET', url: '/api/v1/things', response: 'json', detail: '200,4xx,5xx' });
    expect(byRoute.get('POST /api/v1/things')?.detail).toBe('201,4xx,5xx');
    expect(byRoute.get('GET /metrics')).toEqual({ method: 'GET', url: '/metrics', response: 'non-json', detail: 'Prometheus text' });
    expect(byRoute.get('HEAD /api/v1/things')?.response).toBe('non-json');
    expect(apiRoutes(app).filter((r) => r.response === 'missing').map((r) => `${r.method} ${r.url}`)).toEqual(['GET /healthz']);
  });

  it('refuses an app not made by createApi', async () => {
    const { default: fastify } = await import('fastify');
    expect(() => apiRoutes(fastify())).toThrow(/createApi/);
  });

  it('serialises over real HTTP without dropping fields the schema does not name, and the client schema accepts it', async () => {
    const response = await fetch(`${url}/api/v1/things`, { headers: { authorization: 'Bearer token-for-schema-tests' } });
    expect(response.status).toBe(200);
    const body: unknown = await response.json();
    // The default of `labels` is written by the serialiser, as the client would fill it in.
    expect(body).toEqual({ things: [{ id: 'a', size: null, labels: {}, extra: { nested: { deep: [1, 2] } } }, { id: 'b', size: 3, labels: { x: 'y' } }] });
    expect(thingsSchema.parse(body).things[1]?.labels).toEqual({ x: 'y' });
  });

  it('answers errors with the one error body, details included, on a route with a response schema', async () => {
    const conflict = await fetch(`${url}/api/v1/broken`, { headers: { authorization: 'Bearer token-for-schema-tests' } });
    expect(conflict.status).toBe(409);
    const body: unknown = await conflict.json();
    expect(body).toEqual({ code: 'SLOTH_ERR_CONFLICT', message: 'thing c is busy', details: { id: 'c', attempts: 2 } });
    expect(apiErrorBodySchema.parse(body).code).toBe('SLOTH_ERR_CONFLICT');
    const unauthenticated = await fetch(`${url}/api/v1/things`);
    expect(unauthenticated.status).toBe(401);
    expect(apiErrorBodySchema.parse(await unauthenticated.json()).code).toBe('SLOTH_ERR_AUTH');
  });

  it('leaves a declared non-JSON route as it sends', async () => {
    const response = await fetch(`${url}/metrics`);
    expect(await response.text()).toBe('up 1\n');
  });
});
