import fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { isSlothError, SlothError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { Principal, TokenSet } from '../tokens.js';
import { canonicalUrl } from './canonical-path.js';
import { capConnectionsPerClient } from './client-connections.js';
import { HttpError, codeForStatus, statusForCode, type ErrorBody } from './http-error.js';
import { defaultMaxJsonDepth, jsonDepthExceeds } from './json-depth.js';
import { registerApi, type RouteAuth } from './api-registry.js';
import { errorBodyJsonSchema, trackRoutes } from './response-schema.js';

/**
 * Who may call a route:
 * - `public`: anyone (health checks, an open `/metrics`);
 * - `token`: any valid token of this server (the default: a route that
 *   declares nothing is authenticated);
 * - `admin`: an admin token only (others get 403).
 */
export type { RouteAuth };

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Who may call the route. @defaultValue `token` */
    auth?: RouteAuth;
    /**
     * What the route sends instead of JSON (`Prometheus text`, `OTLP protobuf or JSON`): such a route is exempt
     * from declaring response schemas. Every other route declares them (`jsonResponses` from core).
     */
    nonJsonResponse?: string;
  }
  interface FastifyRequest {
    /** The authenticated caller (its token's name, never the secret); set before the handler runs. */
    principal?: Principal;
  }
}

export interface CreateApiOptions {
  /** The server's name in messages and the `WWW-Authenticate` realm (`collector`, `scheduler`). */
  readonly name: string;
  /** Tokens this server accepts. */
  readonly tokens: TokenSet;
  readonly logger: Logger;
  /** Largest request body. @defaultValue 1 MiB */
  readonly bodyLimitBytes?: number;
  /** Time to receive a whole request (headers and body); slower clients get 408 and are disconnected. @defaultValue 30,000 */
  readonly requestTimeoutMillis?: number;
  /**
   * Time to receive a request's complete headers, counted from the connection's opening (its first request)
   * or from the request's first byte (later ones on a kept-alive connection): a client that sends nothing or
   * trickles header bytes gets 408 and is disconnected. Capped at `requestTimeoutMillis`. @defaultValue 10,000
   */
  readonly headersTimeoutMillis?: number;
  /** Connections open at once; more are refused by the socket layer. @defaultValue 1,024 */
  readonly maxConnections?: number;
  /**
   * Connections one client address may hold open at once; more are closed as soon as they are accepted, so
   * one client cannot take every slot of `maxConnections`. Agents behind one NAT share an address.
   * @defaultValue 256
   */
  readonly maxConnectionsPerClient?: number;
  /** Deepest nesting of a JSON body. @defaultValue 64 */
  readonly maxJsonDepth?: number;
  /** @defaultValue 65,000 (longer than common load balancers' idle timeout) */
  readonly keepAliveTimeoutMillis?: number;
  readonly https?: { readonly cert: Buffer; readonly key: Buffer } | undefined;
  /**
   * Answers an error in a route's own wire format (the OTLP `Status`); returns
   * false to use the standard `{ code, message, details }` body.
   */
  readonly renderError?: (request: FastifyRequest, reply: FastifyReply, statusCode: number, body: ErrorBody) => boolean;
}

/**
 * A Fastify instance with Sloth's HTTP rules: canonical paths, authentication
 * declared per route and enforced on the matched route, one error body, and
 * limits on bodies, time and connections. Every HTTP server of Sloth is built
 * with it.
 *
 * @example
 * const app = createApi({ name: 'scheduler', tokens, logger });
 * app.get('/healthz', { config: { auth: 'public' } }, async () => ({ status: 'ok' }));
 * app.get('/api/v1/things', async (request) => list(request.principal!.name)); // token needed
 * app.post('/api/v1/things/:id/approve', { config: { auth: 'admin' } }, handler);
 * // errors: throw new HttpError(404, 'SLOTH_ERR_NOT_FOUND', `no thing ${id}`)
 */
export function createApi(options: CreateApiOptions): FastifyInstance {
  const maxJsonDepth = options.maxJsonDepth ?? defaultMaxJsonDepth;
  const bodyLimit = options.bodyLimitBytes ?? 1024 * 1024;
  const requestTimeout = options.requestTimeoutMillis ?? 30_000;
  // Node refuses a headers timeout longer than the request timeout.
  const headersTimeout = Math.min(options.headersTimeoutMillis ?? 10_000, requestTimeout);
  // Node enforces both timeouts only when it sweeps its connections, every 30 s by default: a client whose
  // headers never end held its socket up to 30 s past the limit. Sweep every second.
  const sweep = { headersTimeout, connectionsCheckingInterval: Math.min(1_000, headersTimeout) };
  const app = fastify({
    logger: false,
    bodyLimit,
    requestTimeout,
    keepAliveTimeout: options.keepAliveTimeoutMillis ?? 65_000,
    rewriteUrl: (request) => canonicalUrl(request.url ?? '/'),
    routerOptions: { caseSensitive: false },
    // Unknown fields are an error the client should hear about, not something to drop silently.
    ajv: { customOptions: { removeAdditional: false } },
    ...(options.https === undefined ? { http: sweep } : { https: { cert: options.https.cert, key: options.https.key, ...sweep } }),
  });
  app.server.maxConnections = options.maxConnections ?? 1024;
  capConnectionsPerClient(app.server, { maxPerClient: options.maxConnectionsPerClient ?? 256, serverName: options.name, logger: options.logger });
  app.decorateRequest('principal', undefined);

  // Every route is recorded with how it answers (apiRoutes(app)); a JSON route's 4xx/5xx answers get the one
  // error body schema, so fast-json-stringify serialises errors the same on every route.
  const routes = trackRoutes(app);
  // And with who may call it (liveApis()), read from the same config the authentication hook below reads.
  const access = registerApi(options.name, app);
  app.addHook('onRoute', (route) => {
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    const url = route.url ?? route.path;
    for (const method of methods) access.push({ method, url, auth: route.config?.auth ?? 'token' });
    const nonJson = route.config?.nonJsonResponse;
    const response = route.schema?.response as Record<string, unknown> | undefined;
    for (const method of methods) {
      if (method === 'HEAD') routes.push({ method, url, response: 'non-json', detail: 'HEAD answers no body' });
      else if (nonJson !== undefined) routes.push({ method, url, response: 'non-json', detail: nonJson });
      else if (response === undefined || !Object.keys(response).some((status) => status.startsWith('2'))) routes.push({ method, url, response: 'missing', detail: 'no 2xx response schema' });
      else routes.push({ method, url, response: 'json', detail: Object.keys(response).join(',') });
    }
    if (nonJson === undefined && response !== undefined) {
      response['4xx'] ??= errorBodyJsonSchema;
      response['5xx'] ??= errorBodyJsonSchema;
    }
  });

  function answer(request: FastifyRequest, reply: FastifyReply, statusCode: number, body: ErrorBody): FastifyReply {
    if (options.renderError?.(request, reply, statusCode, body) === true) return reply;
    return reply.code(statusCode).type('application/json; charset=utf-8').send(body);
  }

  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string', bodyLimit }, (_request, text, done) => {
    const body = text as string;
    if (body.trim() === '') {
      done(null, undefined);
      return;
    }
    if (jsonDepthExceeds(body, maxJsonDepth)) {
      done(new HttpError(400, 'SLOTH_ERR_BAD_REQUEST', `JSON body nests deeper than ${maxJsonDepth} levels`, { maxJsonDepth }), undefined);
      return;
    }
    try {
      done(null, JSON.parse(body));
    } catch (error) {
      done(new HttpError(400, 'SLOTH_ERR_BAD_REQUEST', `body is not valid JSON: ${(error as Error).message}`), undefined);
    }
  });

  // A body that stops arriving gets 408 and the connection is dropped (Node's own requestTimeout does not
  // fire once the request has been handed to the application).
  app.addHook('onRequest', async (request, reply) => {
    if (request.raw.complete) return;
    const timer = setTimeout(() => {
      if (request.raw.complete || reply.raw.headersSent) return;
      const body: ErrorBody = { code: 'SLOTH_ERR_BAD_REQUEST', message: `the request body did not arrive within ${requestTimeout} ms`, details: { requestTimeoutMillis: requestTimeout } };
      reply.raw.once('finish', () => request.raw.socket.destroy());
      reply.raw.writeHead(408, { 'content-type': 'application/json; charset=utf-8', connection: 'close' }).end(JSON.stringify(body));
    }, requestTimeout);
    timer.unref();
    const clear = (): void => clearTimeout(timer);
    request.raw.once('end', clear);
    reply.raw.once('finish', clear);
    reply.raw.once('close', clear);
  });

  // An answer sent before the body arrived (401, 413, 415, a 503 that sheds load) ends the connection: else Node
  // waits on the same socket for the rest of a body that a slow client may never send, past the request timeout.
  app.addHook('onSend', async (request, reply) => {
    if (!request.raw.complete) void reply.header('connection', 'close');
  });

  // On the matched route, after routing on the canonical path: never on the raw URL.
  app.addHook('onRequest', async (request, reply) => {
    // Node keeps the first of several Authorization headers, a proxy in front may keep the last: the two would
    // authorise the request as different callers. Such a request is refused whatever its route.
    const authorizations = headerCount(request, 'authorization');
    if (authorizations > 1) {
      void reply.header('connection', 'close');
      return answer(request, reply, 400, {
        code: 'SLOTH_ERR_BAD_REQUEST',
        message: `the request carries ${authorizations} Authorization headers; send exactly one: "Authorization: Bearer <token>"`,
        details: { header: 'authorization', count: authorizations },
      });
    }
    const auth: RouteAuth = request.is404 ? 'token' : (request.routeOptions.config.auth ?? 'token');
    if (auth === 'public') return undefined;
    const principal = options.tokens.authenticate(request.headers.authorization);
    if (principal === undefined) {
      // An unauthenticated client learns nothing more (not even whether the route exists) and is let go.
      void reply.header('www-authenticate', `Bearer realm="sloth-${options.name}"`).header('connection', 'close');
      const sent = request.headers.authorization === undefined ? 'missing' : 'invalid';
      return answer(request, reply, 401, {
        code: 'SLOTH_ERR_AUTH',
        message: `${sent} bearer token: send "Authorization: Bearer <token>" with a token configured on the ${options.name}`,
        details: {},
      });
    }
    request.principal = principal;
    if (auth === 'admin' && !principal.admin) {
      return answer(request, reply, 403, {
        code: 'SLOTH_ERR_FORBIDDEN',
        message: `token "${principal.name}" may not ${request.method} ${request.routeOptions.url ?? request.url}: it needs an admin token of the ${options.name}`,
        details: { principal: principal.name },
      });
    }
    return undefined;
  });

  app.setNotFoundHandler((request, reply) => {
    const path = request.url.split('?')[0] ?? '/';
    return answer(request, reply, 404, { code: 'SLOTH_ERR_NOT_FOUND', message: `no route ${request.method} ${path} on the ${options.name}`, details: { method: request.method, path } });
  });

  app.setErrorHandler((error: Error & { statusCode?: number; code?: string; validation?: unknown; validationContext?: string }, request, reply) => {
    if (error instanceof HttpError) return answer(request, reply, error.statusCode, error.toJSON());
    if (isSlothError(error)) {
      const status = statusForCode(error.code);
      if (status >= 500) options.logger.error({ err: error, method: request.method, route: request.routeOptions.url }, `${options.name} request failed`);
      return answer(request, reply, status, error.toJSON());
    }
    if (error.validation !== undefined) return answer(request, reply, 400, validationBody(error as ValidationFailure, request));
    const status = error.statusCode;
    if (status !== undefined && status >= 400 && status < 500) {
      const message = error.code === 'FST_ERR_CTP_BODY_TOO_LARGE' ? `body is larger than the limit of ${bodyLimit} bytes` : error.message;
      return answer(request, reply, status, { code: codeForStatus(status), message, details: {} });
    }
    options.logger.error({ err: error, method: request.method, route: request.routeOptions.url }, `${options.name} request failed`);
    return answer(request, reply, 500, { code: 'SLOTH_ERR_INTERNAL', message: `the ${options.name} failed to handle this request; see its log`, details: {} });
  });

  return app;
}

/** How many times a header (lower case) was sent; Node's `request.headers` keeps only the first of some. */
function headerCount(request: FastifyRequest, name: string): number {
  const raw = request.raw.rawHeaders;
  let count = 0;
  for (let i = 0; i < raw.length; i += 2) if (raw[i]?.toLowerCase() === name) count += 1;
  return count;
}

interface ValidationFailure {
  readonly message: string;
  readonly validationContext?: string;
  readonly validation: ReadonlyArray<{ instancePath: string; message?: string; params: Record<string, unknown> }>;
}

/** A schema failure as a 400 naming the parameter and the value sent. */
function validationBody(error: ValidationFailure, request: FastifyRequest): ErrorBody {
  const context = error.validationContext ?? 'body';
  const where = context === 'querystring' ? 'query parameter' : context === 'params' ? 'path parameter' : context === 'headers' ? 'header' : 'body field';
  const source = (context === 'querystring' ? request.query : context === 'params' ? request.params : context === 'headers' ? request.headers : request.body) as Record<string, unknown> | undefined;
  const first = error.validation[0];
  const params = first?.params ?? {};
  if (typeof params.additionalProperty === 'string') {
    return { code: 'SLOTH_ERR_BAD_REQUEST', message: `unknown ${where} "${params.additionalProperty}"`, details: { in: context, parameter: params.additionalProperty } };
  }
  let name = first?.instancePath.replace(/^\//, '').split('/')[0] ?? '';
  if (name === '' && typeof params.missingProperty === 'string') name = params.missingProperty;
  const value = source === undefined || name === '' ? undefined : source[name];
  const reason = first?.message ?? error.message;
  const message = value === undefined ? `${where} "${name}" ${reason}` : `${where} "${name}" = ${JSON.stringify(value)}: ${reason}`;
  return { code: 'SLOTH_ERR_BAD_REQUEST', message, details: { in: context, parameter: name, ...(value === undefined ? {} : { value }) } };
}

/** Where a server listens once started. */
export interface BoundAddress {
  readonly host: string;
  readonly port: number;
  /** `http(s)://host:port` as a client on this machine reaches it. */
  readonly url: string;
}

/** Listens, mapping a taken port to SLOTH_ERR_PORT_IN_USE; returns the address actually bound. */
export async function listenApi(app: FastifyInstance, options: { port: number; host: string; flag?: string }): Promise<BoundAddress> {
  try {
    await app.listen({ port: options.port, host: options.host });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EADDRINUSE') {
      throw new SlothError('SLOTH_ERR_PORT_IN_USE', `port ${options.port} on ${options.host} is already in use; pick another with ${options.flag ?? '--port'}`, { cause: error });
    }
    throw error;
  }
  const address = app.server.address();
  const host = typeof address === 'object' && address !== null ? address.address : options.host;
  const port = typeof address === 'object' && address !== null ? address.port : options.port;
  return { host, port, url: localUrl(host, port, 'setSecureContext' in app.server ? 'https' : 'http') };
}

/** `scheme://host:port` as a client on this machine reaches a socket bound to `host` (a wildcard bind answers on loopback). */
export function localUrl(host: string, port: number, scheme: 'http' | 'https' = 'http'): string {
  const shown = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host;
  return `${scheme}://${shown}:${port}`;
}
