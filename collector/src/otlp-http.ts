import { readFileSync } from 'node:fs';
import fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import protobufMinimal from 'protobufjs/minimal.js';
import { isSlothError, type Logger } from '@sloth/core';
import type { TokenAuthenticator } from './auth.js';
import { decompress, encodingOf, formatOf, type BodyFormat, type Signal } from './decode.js';
import { HttpError, rpcCodeFor } from './http-error.js';
import { decodeAndNormalise, type IngestPipeline } from './ingest-pipeline.js';
import type { SeriesContext } from './otlp-normalise.js';
import { otlpTypes } from './otlp-root.js';
import type { SelfMetrics } from './self-metrics.js';

/**
 * The OTLP/HTTP receiver (`POST /v1/metrics`, `/v1/traces`, `/v1/logs`,
 * protobuf or JSON, gzip or identity) and the authentication that guards it
 * and the query API under `/api/v1/`.
 */

export interface OtlpHttpOptions {
  readonly pipeline: IngestPipeline;
  readonly authenticator: TokenAuthenticator;
  readonly series: SeriesContext;
  readonly metrics: SelfMetrics;
  readonly logger: Logger;
  readonly maxBodyBytes: number;
  readonly maxDecompressedBytes: number;
  readonly retryAfterSeconds: number;
  readonly tls?: { readonly certFile: string; readonly keyFile: string } | undefined;
}

declare module 'fastify' {
  interface FastifyRequest {
    slothPrincipal?: string;
  }
}

const rejectedField = { metrics: 'rejectedDataPoints', traces: 'rejectedSpans', logs: 'rejectedLogRecords' } as const;
const responseTypes = { metrics: otlpTypes.metricsResponse, traces: otlpTypes.tracesResponse, logs: otlpTypes.logsResponse } as const;
const emptyProtobufResponse = Buffer.alloc(0);
const emptyJsonResponse = '{}';

function isOtlpPath(url: string): boolean {
  return url.startsWith('/v1/');
}

function isProtectedPath(url: string): boolean {
  return url.startsWith('/v1/') || url.startsWith('/api/v1/') || url === '/v1' || url === '/api/v1';
}

/** A google.rpc.Status message (code = 1, message = 2), as OTLP error bodies carry. */
function encodeStatus(code: number, message: string): Uint8Array {
  return protobufMinimal.Writer.create().uint32(8).int32(code).uint32(18).string(message).finish();
}

function sendError(request: FastifyRequest, reply: FastifyReply, statusCode: number, message: string, retryAfterSeconds?: number): FastifyReply {
  const code = rpcCodeFor(statusCode);
  if (retryAfterSeconds !== undefined) void reply.header('retry-after', String(retryAfterSeconds));
  if (formatOf(request.headers['content-type']) === 'protobuf' && isOtlpPath(request.url)) {
    return reply.code(statusCode).type('application/x-protobuf').send(Buffer.from(encodeStatus(code, message)));
  }
  return reply.code(statusCode).type('application/json').send({ code, message });
}

/** Builds the collector's main HTTP app; the caller registers the query API and listens. */
export function buildOtlpApp(options: OtlpHttpOptions): FastifyInstance {
  const app = fastify({
    logger: false,
    bodyLimit: options.maxBodyBytes,
    keepAliveTimeout: 65_000,
    ...(options.tls === undefined ? {} : { https: { cert: readFileSync(options.tls.certFile), key: readFileSync(options.tls.keyFile) } }),
  });

  // Bodies arrive as raw bytes: decompression and decoding happen in the handler, with limits.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: options.maxBodyBytes }, (_request, body, done) => {
    done(null, body);
  });

  app.addHook('onRequest', async (request, reply) => {
    if (!isProtectedPath(request.url)) return;
    const principal = options.authenticator.authenticate(request.headers.authorization);
    if (principal === undefined) {
      return sendError(request, reply, 401, 'missing or invalid bearer token: send "Authorization: Bearer <token>" with a token configured on the collector');
    }
    request.slothPrincipal = principal;
    if (request.method === 'POST' && isOtlpPath(request.url)) {
      if (formatOf(request.headers['content-type']) === undefined) {
        return sendError(request, reply, 415, `Content-Type ${JSON.stringify(request.headers['content-type'] ?? '')} is not supported; use application/x-protobuf or application/json`);
      }
      const declared = Number(request.headers['content-length']);
      if (Number.isFinite(declared) && declared > options.maxBodyBytes) {
        return sendError(request, reply, 413, `body of ${declared} bytes is larger than the limit of ${options.maxBodyBytes} bytes`);
      }
      if (options.pipeline.saturated()) {
        return sendError(request, reply, 503, 'the collector is saturated; retry later', options.retryAfterSeconds);
      }
    }
    return undefined;
  });

  app.addHook('onResponse', async (request, reply) => {
    if (!isOtlpPath(request.url)) return;
    options.metrics.requests.add(String(reply.statusCode), 1);
    options.metrics.requestDuration.observe(reply.elapsedTime / 1000);
  });

  app.setErrorHandler((error: Error & { statusCode?: number; code?: string }, request, reply) => {
    if (error instanceof HttpError) return sendError(request, reply, error.statusCode, error.message, error.statusCode === 503 ? options.retryAfterSeconds : undefined);
    const status = error.statusCode;
    if (status !== undefined && status >= 400 && status < 500) {
      const message = error.code === 'FST_ERR_CTP_BODY_TOO_LARGE' ? `body is larger than the limit of ${options.maxBodyBytes} bytes` : error.message;
      return sendError(request, reply, status, message);
    }
    if (isSlothError(error) && error.code === 'SLOTH_ERR_STORAGE') {
      options.logger.error({ err: error }, 'storage failure while handling a request');
      return sendError(request, reply, 503, 'the collector cannot persist data right now; retry later', options.retryAfterSeconds);
    }
    options.logger.error({ err: error, url: request.url }, 'request failed');
    return sendError(request, reply, 503, 'the collector could not make the data durable; retry later', options.retryAfterSeconds);
  });

  const route = (signal: Signal): void => {
    app.post(`/v1/${signal}`, async (request, reply) => {
      const receivedAtMillis = Date.now();
      const format = formatOf(request.headers['content-type']) as BodyFormat;
      const encoding = encodingOf(request.headers['content-encoding']);
      const raw = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0);
      const principal = request.slothPrincipal ?? 'anonymous';
      const result = decodeAndNormalise(signal, format, await decompress(raw, encoding, options.maxDecompressedBytes), principal, options.series, receivedAtMillis);
      await options.pipeline.ingest({ signal, format, encoding, principal, receivedAtMillis, body: raw }, result);
      options.metrics.pointsReceived.add(signal, result.accepted);
      for (const [reason, count] of Object.entries(result.rejectedByReason)) options.metrics.pointsRejected.add(reason, count);
      if (format === 'protobuf') {
        void reply.code(200).type('application/x-protobuf');
        if (result.rejected === 0) return reply.send(emptyProtobufResponse);
        const message = { partialSuccess: { [rejectedField[signal]]: result.rejected, errorMessage: result.errorMessage } };
        return reply.send(Buffer.from(responseTypes[signal].encode(message).finish()));
      }
      void reply.code(200).type('application/json');
      if (result.rejected === 0) return reply.send(emptyJsonResponse);
      return reply.send(JSON.stringify({ partialSuccess: { [rejectedField[signal]]: String(result.rejected), errorMessage: result.errorMessage } }));
    });
  };
  route('metrics');
  route('traces');
  route('logs');
  return app;
}
