import { performance } from 'node:perf_hooks';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import protobufMinimal from 'protobufjs/minimal.js';
import { anonymousPrincipal, createApi, defaultMaxJsonDepth, isSlothError, jsonDepthExceeds, mayWriteFor, readRegularFile, SlothError, type Logger, type TokenSet } from '@sloth/core';
import { assertMayWrite } from './auth.js';
import { BodyPool, readBody } from './body-pool.js';
import { decompress, encodingOf, formatOf, type BodyFormat, type Signal } from './decode.js';
import { HttpError, rpcCodeFor } from './http-error.js';
import { decodeAndNormalise, type IngestPipeline, type IngestTiming } from './ingest-pipeline.js';
import type { AdmissionTicket, LatencyBudget } from './latency-budget.js';
import { requestAdmission, settleRejections, type PointLimitSettings } from './limits-series.js';
import type { NormaliseResult, SeriesContext } from './otlp-normalise.js';
import { otlpTypes } from './otlp-root.js';
import type { SelfMetrics } from './self-metrics.js';

/**
 * The collector's main HTTP server: the OTLP/HTTP receiver (`POST
 * /v1/metrics`, `/v1/traces`, `/v1/logs`, protobuf or JSON, gzip or
 * identity) on core's `createApi`, which also serves the query API. Every
 * route needs a token (none is public); the OTLP routes answer errors with
 * the OTLP `Status` body, every other route with `{ code, message, details }`.
 */

export interface OtlpHttpOptions {
  readonly pipeline: IngestPipeline;
  readonly tokens: TokenSet;
  /** Admission of the pipeline (label limits, then cardinality); each request adds its caller's agent binding. */
  readonly series: SeriesContext;
  readonly metrics: SelfMetrics;
  readonly logger: Logger;
  readonly maxBodyBytes: number;
  readonly maxDecompressedBytes: number;
  readonly retryAfterSeconds: number;
  /** Refuses requests whose estimated latency is past the budget (503 + Retry-After); without it only a full queue refuses. */
  readonly budget?: LatencyBudget;
  /** @defaultValue 64 labels, 2,048-byte values, 10 minutes of skew */
  readonly limits?: PointLimitSettings;
  /** @defaultValue 64 */
  readonly maxJsonDepth?: number;
  /** @defaultValue 1,024 */
  readonly maxConnections?: number;
  /** @defaultValue 256 */
  readonly maxConnectionsPerClient?: number;
  /** @defaultValue 10,000 */
  readonly headersTimeoutMillis?: number;
  /** @defaultValue 30,000 */
  readonly requestTimeoutMillis?: number;
  readonly tls?: { readonly certFile: string; readonly keyFile: string } | undefined;
  /**
   * Answers every accepted OTLP request with a `Server-Timing` header: where its time went on the
   * server (see {@link serverTimingHeader}), so a load test can take its slowest requests apart.
   * @defaultValue false
   */
  readonly serverTiming?: boolean;
  /** Where bodies of several chunks are joined (see body-pool.ts). @defaultValue 64 slabs of 128 KiB */
  readonly bodyPool?: BodyPool;
}

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The route answers errors with the OTLP `Status` body. */
    otlp?: boolean;
  }
}

export const defaultPointLimits: PointLimitSettings = {
  maxLabelsPerPoint: 64,
  maxLabelValueBytes: 2048,
  maxNameBytes: 256,
  maxUnitBytes: 64,
  maxAttributesPerRecord: 128,
  maxAttributeValueBytes: 4096,
  maxLogBodyBytes: 16_384,
  maxFutureSkewMillis: 600_000,
};

const rejectedField = { metrics: 'rejectedDataPoints', traces: 'rejectedSpans', logs: 'rejectedLogRecords' } as const;
const responseTypes = { metrics: otlpTypes.metricsResponse, traces: otlpTypes.tracesResponse, logs: otlpTypes.logsResponse } as const;
const emptyProtobufResponse = Buffer.alloc(0);
const emptyJsonResponse = '{}';
/**
 * Bodies up to this size that arrive in several chunks are joined into reused slabs: the next power of
 * two above an uncompressed 1,000-point request (~72 KB); larger bodies get a buffer of their own.
 */
const bodySlabBytes = 128 * 1024;
/** Free slabs kept: at most 8 MiB held for reuse. */
const bodySlabsKept = 64;

/** A google.rpc.Status message (code = 1, message = 2), as OTLP error bodies carry. */
function encodeStatus(code: number, message: string): Uint8Array {
  return protobufMinimal.Writer.create().uint32(8).int32(code).uint32(18).string(message).finish();
}

function sendStatus(request: FastifyRequest, reply: FastifyReply, statusCode: number, message: string, retryAfterSeconds?: number): FastifyReply {
  const code = rpcCodeFor(statusCode);
  if (retryAfterSeconds !== undefined) void reply.header('retry-after', String(retryAfterSeconds));
  if (formatOf(request.headers['content-type']) === 'protobuf') {
    return reply.code(statusCode).type('application/x-protobuf').send(Buffer.from(encodeStatus(code, message)));
  }
  return reply.code(statusCode).type('application/json').send({ code, message });
}

/**
 * The `Server-Timing` value of an accepted request, in ms: `read` from the request's headers to its
 * handler (the body arriving, waiting for the event loop), `decode` (decompress, decode, admit),
 * `walqueue` from the append to its group commit starting (the previous group's sync),
 * `walsync` the group's write and fdatasync, `resume` from the sync to the handler running again
 * (event-loop delay), `reply` from there to the answer (the sinks).
 */
export function serverTimingHeader(arrivedAt: number, handlerAt: number, decodedAt: number, wal: IngestTiming | undefined, repliedAt: number): string {
  const ms = (from: number, to: number): string => Math.max(0, to - from).toFixed(2);
  const head = `read;dur=${ms(arrivedAt, handlerAt)}, decode;dur=${ms(handlerAt, decodedAt)}`;
  if (wal === undefined) return `${head}, reply;dur=${ms(decodedAt, repliedAt)}`;
  return `${head}, walqueue;dur=${ms(wal.appendedAt, wal.writeStartedAt)}, walsync;dur=${ms(wal.writeStartedAt, wal.syncedAt)}, resume;dur=${ms(wal.syncedAt, wal.resumedAt)}, reply;dur=${ms(wal.resumedAt, repliedAt)}`;
}

/** Builds the collector's main HTTP app; the caller registers the query API and listens. */
export function buildOtlpApp(options: OtlpHttpOptions): FastifyInstance {
  const tickets = new WeakMap<FastifyRequest, AdmissionTicket>();
  const bodies = options.bodyPool ?? new BodyPool(bodySlabBytes, bodySlabsKept);
  /** The pooled slab each request's body is in, until its handler is done with it. */
  const slabs = new WeakMap<FastifyRequest, ArrayBuffer>();
  /** When each request's headers were read (with `serverTiming` only). */
  const arrivals = new WeakMap<FastifyRequest, number>();
  const serverTiming = options.serverTiming === true;
  const limits = options.limits ?? defaultPointLimits;
  const maxJsonDepth = options.maxJsonDepth ?? defaultMaxJsonDepth;
  const app = createApi({
    name: 'collector',
    tokens: options.tokens,
    logger: options.logger,
    bodyLimitBytes: options.maxBodyBytes,
    maxJsonDepth,
    ...(options.maxConnections === undefined ? {} : { maxConnections: options.maxConnections }),
    ...(options.maxConnectionsPerClient === undefined ? {} : { maxConnectionsPerClient: options.maxConnectionsPerClient }),
    ...(options.headersTimeoutMillis === undefined ? {} : { headersTimeoutMillis: options.headersTimeoutMillis }),
    ...(options.requestTimeoutMillis === undefined ? {} : { requestTimeoutMillis: options.requestTimeoutMillis }),
    https: options.tls === undefined ? undefined : { cert: tlsFile(options.tls.certFile, 'certificate'), key: tlsFile(options.tls.keyFile, 'key') },
    renderError: (request, reply, statusCode, body) => {
      if (request.is404 || request.routeOptions.config.otlp !== true) return false;
      sendStatus(request, reply, statusCode, body.message);
      return true;
    },
  });

  void app.register(async (otlp) => {
    // Bodies arrive as raw bytes: decompression and decoding happen in the handler, with limits.
    // A body of several chunks is joined into a pooled slab, which the handler gives back when done.
    otlp.removeAllContentTypeParsers();
    otlp.addContentTypeParser('*', { bodyLimit: options.maxBodyBytes }, (request, payload, done) => {
      void readBody(payload, Number(request.headers['content-length']), options.maxBodyBytes, bodies).then(
        ({ body, slab }) => {
          if (slab !== undefined) slabs.set(request, slab);
          done(null, body);
        },
        (error: Error) => done(error, undefined),
      );
    });

    // Runs after createApi's authentication: only callers with a token get this far.
    otlp.addHook('onRequest', async (request, reply) => {
      if (serverTiming) arrivals.set(request, performance.now());
      if (formatOf(request.headers['content-type']) === undefined) {
        return sendStatus(request, reply, 415, `Content-Type ${JSON.stringify(request.headers['content-type'] ?? '')} is not supported; use application/x-protobuf or application/json`);
      }
      const declared = Number(request.headers['content-length']);
      if (Number.isFinite(declared) && declared > options.maxBodyBytes) {
        return sendStatus(request, reply, 413, `body of ${declared} bytes is larger than the limit of ${options.maxBodyBytes} bytes`);
      }
      if (options.pipeline.saturated()) {
        return sendStatus(request, reply, 503, 'the collector is saturated; retry later', options.retryAfterSeconds);
      }
      const budget = options.budget;
      if (budget !== undefined) {
        const bytes = Number.isFinite(declared) && declared > 0 ? declared : 0;
        const decision = budget.decide(bytes, options.pipeline.queueDepth);
        if (!decision.admitted) {
          options.metrics.budgetRejections.inc();
          const retryAfterSeconds = Math.max(options.retryAfterSeconds, decision.retryAfterSeconds);
          return sendStatus(request, reply, 503, `the collector is overloaded: this request would take about ${Math.round(decision.estimatedMillis)} ms, past its latency budget of ${budget.budgetMillis} ms; retry after ${retryAfterSeconds} s`, retryAfterSeconds);
        }
        tickets.set(request, budget.enter(bytes, performance.now()));
      }
      return undefined;
    });

    otlp.addHook('onResponse', async (request, reply) => {
      const ticket = tickets.get(request);
      // What admission expected against what happened: the feedback that tightens it when the model is optimistic.
      if (ticket !== undefined) options.budget?.complete(ticket, reply.statusCode === 200 ? reply.elapsedTime : undefined);
      options.metrics.requests.add(String(reply.statusCode), 1);
      options.metrics.requestDuration.observe(reply.elapsedTime / 1000);
    });

    // A client that went away before its answer no longer waits in line.
    otlp.addHook('onRequestAbort', async (request) => {
      const ticket = tickets.get(request);
      if (ticket !== undefined) options.budget?.complete(ticket);
    });

    otlp.setErrorHandler((error: Error & { statusCode?: number; code?: string }, request, reply) => {
      if (error instanceof HttpError) return sendStatus(request, reply, error.statusCode, error.message, error.statusCode === 503 ? options.retryAfterSeconds : undefined);
      const status = error.statusCode;
      if (status !== undefined && status >= 400 && status < 500) {
        const message = error.code === 'FST_ERR_CTP_BODY_TOO_LARGE' ? `body is larger than the limit of ${options.maxBodyBytes} bytes` : error.message;
        return sendStatus(request, reply, status, message);
      }
      if (isSlothError(error) && error.code === 'SLOTH_ERR_STORAGE') {
        options.logger.error({ err: error }, 'storage failure while handling a request');
        return sendStatus(request, reply, 503, 'the collector cannot persist data right now; retry later', options.retryAfterSeconds);
      }
      options.logger.error({ err: error, route: request.routeOptions.url }, 'request failed');
      return sendStatus(request, reply, 503, 'the collector could not make the data durable; retry later', options.retryAfterSeconds);
    });

    /** Decodes, applies the caller's agent binding and the point limits; throws 400/403 before anything is stored. */
    async function admitted(signal: Signal, request: FastifyRequest, format: BodyFormat, raw: Buffer, receivedAtMillis: number): Promise<NormaliseResult> {
      const ticket = tickets.get(request);
      const startedAt = performance.now();
      if (ticket !== undefined) options.metrics.queueWait.observe((startedAt - ticket.arrivedAtMillis) / 1000);
      try {
        return await decodeAdmitted(signal, request, format, raw, receivedAtMillis);
      } finally {
        if (ticket !== undefined) {
          options.budget?.observeDecode(performance.now() - startedAt, raw.length);
          options.budget?.release(ticket);
        }
      }
    }

    async function decodeAdmitted(signal: Signal, request: FastifyRequest, format: BodyFormat, raw: Buffer, receivedAtMillis: number): Promise<NormaliseResult> {
      const principal = request.principal ?? anonymousPrincipal;
      const bytes = await decompress(raw, encodingOf(request.headers['content-encoding']), options.maxDecompressedBytes);
      if (format === 'json' && jsonDepthExceeds(bytes, maxJsonDepth)) {
        throw new HttpError(400, 'SLOTH_ERR_BAD_REQUEST', `OTLP JSON ${signal} body nests deeper than ${maxJsonDepth} levels`, { maxJsonDepth });
      }
      const { admit, tally } = requestAdmission(limits, options.series.admit, (agentId) => mayWriteFor(principal, agentId));
      let result: NormaliseResult;
      try {
        result = decodeAndNormalise(signal, format, bytes, principal.name, { cache: options.series.cache, admit }, receivedAtMillis);
      } catch (error) {
        if (error instanceof HttpError) throw error;
        throw new HttpError(400, 'SLOTH_ERR_BAD_REQUEST', `the OTLP ${format} ${signal} body cannot be read: ${(error as Error).message}`);
      }
      assertMayWrite(principal, result.batch);
      return settleRejections(result, tally, receivedAtMillis, limits);
    }

    const route = (signal: Signal): void => {
      otlp.post(`/v1/${signal}`, { config: { auth: 'token', otlp: true, nonJsonResponse: 'OTLP Export*ServiceResponse (protobuf or OTLP JSON) and the OTLP Status body on errors' } }, async (request, reply) => {
        try {
          return await handle(signal, request, reply);
        } finally {
          // Decoded (the decoders keep copies) and in the WAL on disk, or refused: the body's slab is free again.
          const slab = slabs.get(request);
          if (slab !== undefined) {
            slabs.delete(request);
            bodies.give(slab);
          }
        }
      });
    };

    async function handle(signal: Signal, request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
      const handlerAt = performance.now();
      const receivedAtMillis = Date.now();
      const format = formatOf(request.headers['content-type']) as BodyFormat;
      const raw = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0);
      const result = await admitted(signal, request, format, raw, receivedAtMillis);
      const decodedAt = performance.now();
      const principal = (request.principal ?? anonymousPrincipal).name;
      const wal = await options.pipeline.ingest({ signal, format, encoding: encodingOf(request.headers['content-encoding']), principal, receivedAtMillis, body: raw }, result);
      options.metrics.pointsReceived.add(signal, result.accepted);
      for (const [reason, count] of Object.entries(result.rejectedByReason)) options.metrics.pointsRejected.add(reason, count);
      options.metrics.valuesTruncated.add(signal, result.truncated ?? 0);
      if (serverTiming) void reply.header('server-timing', serverTimingHeader(arrivals.get(request) ?? handlerAt, handlerAt, decodedAt, wal, performance.now()));
      if (format === 'protobuf') {
        void reply.code(200).type('application/x-protobuf');
        if (result.rejected === 0) return reply.send(emptyProtobufResponse);
        const message = { partialSuccess: { [rejectedField[signal]]: result.rejected, errorMessage: result.errorMessage } };
        return reply.send(Buffer.from(responseTypes[signal].encode(message).finish()));
      }
      void reply.code(200).type('application/json');
      if (result.rejected === 0) return reply.send(emptyJsonResponse);
      return reply.send(JSON.stringify({ partialSuccess: { [rejectedField[signal]]: String(result.rejected), errorMessage: result.errorMessage } }));
    }
    route('metrics');
    route('traces');
    route('logs');
  });
  return app;
}

/**
 * A TLS certificate or key, read as a file a user named: a FIFO is refused instead of blocking the
 * start for ever, and a file over 1 MiB (no PEM chain is that large) is refused unread.
 */
function tlsFile(path: string, what: 'certificate' | 'key'): Buffer {
  const read = readRegularFile(path, { maxBytes: 1024 * 1024 });
  if (read.ok) return read.bytes;
  throw new SlothError('SLOTH_ERR_CONFIG', `the collector's TLS ${what} ${path} ${read.problem}`, { details: { path } });
}
