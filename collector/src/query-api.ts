import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { HttpError, jsonResponses, agentsResponseSchema, seriesResponseSchema, samplesResponseSchema, latestResponseSchema, spansResponseSchema, logsResponseSchema } from '@sloth/core';
import type { AgentRegistry } from './agent-registry.js';
import type { LatestValues } from './latest-values.js';
import type { MetricPoint } from './records.js';
import { registerAggregateRoute } from './query-aggregate-route.js';
import type { StoreReader } from './store/store-reader.js';
import type { StepAggregation } from './store/store-types.js';

export interface QueryApiDeps {
  readonly store: StoreReader;
  readonly registry: AgentRegistry;
  readonly latest: LatestValues;
  /**
   * Resolves when the store holds every write acknowledged so far (writes
   * reach the store shortly after they are acknowledged); store queries wait
   * for it, so a client reads what it was told is durable.
   */
  readonly caughtUp?: () => Promise<void>;
  /** The clock, for relative times like `-1h`. @defaultValue Date.now */
  readonly nowMillis?: () => number;
}

/** Most points one `/samples` answer carries (raw points or step buckets). */
export const maxSamplePoints = 11_000;
const maxListLimit = 10_000;

/** A query parameter was wrong: answered with 400 naming the parameter and its value. */
class BadParameter extends HttpError {
  constructor(parameter: string, value: unknown, reason: string) {
    super(400, 'SLOTH_ERR_BAD_REQUEST', `query parameter "${parameter}"${value === undefined ? '' : ` = ${JSON.stringify(value)}`} ${reason}`, { parameter, ...(value === undefined ? {} : { value }) });
  }
}

/** Latest time a query may name: the end of year 9999, the last a date can print. */
const maxTimeMillis = 253_402_300_799_999;

const durationUnits: Readonly<Record<string, number>> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

/** `90s`, `5m`, `1h`, `2d` or a plain number of milliseconds. */
export function parseDurationMillis(text: string): number | undefined {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h|d|w)?$/.exec(text.trim());
  if (match === null) return undefined;
  return Number(match[1]) * (durationUnits[match[2] ?? 'ms'] ?? 1);
}

/** Milliseconds since the epoch, an ISO 8601 date, `now`, or relative to now like `-1h`, `-30m`. */
export function parseTimeMillis(text: string, nowMillis: number): number | undefined {
  const value = text.trim();
  if (value === 'now') return nowMillis;
  if (/^\d+$/.test(value)) return Number(value);
  if (value.startsWith('-')) {
    const duration = parseDurationMillis(value.slice(1));
    return duration === undefined ? undefined : nowMillis - duration;
  }
  if (/^\d{4}-\d{2}-\d{2}/.test(value)) {
    const parsed = Date.parse(value);
    return Number.isNaN(parsed) ? undefined : parsed;
  }
  return undefined;
}

const timeParam = { type: 'string', minLength: 1, maxLength: 64 } as const;
const limitParam = { type: 'integer', minimum: 1, maximum: maxListLimit } as const;

const schemas = {
  // No parameters: any sent is answered 400 naming it, as on every other route.
  agents: { type: 'object', properties: {}, additionalProperties: false },
  series: {
    type: 'object',
    properties: {
      name: { type: 'string', minLength: 1 },
      agent: { type: 'string', minLength: 1 },
      label: { type: 'array', items: { type: 'string' } },
      limit: limitParam,
    },
    additionalProperties: false,
  },
  samples: {
    type: 'object',
    required: ['series'],
    properties: {
      series: { type: 'string', minLength: 1 },
      from: timeParam,
      to: timeParam,
      step: { type: 'string', minLength: 1, maxLength: 32 },
      agg: { type: 'string', enum: ['avg', 'min', 'max', 'last'] },
    },
    additionalProperties: false,
  },
  latest: {
    type: 'object',
    properties: { name: { type: 'string', minLength: 1 }, agent: { type: 'string', minLength: 1 } },
    additionalProperties: false,
  },
  spans: {
    type: 'object',
    properties: {
      agent: { type: 'string', minLength: 1 },
      name: { type: 'string', minLength: 1 },
      traceId: { type: 'string', pattern: '^[0-9a-fA-F]{32}$' },
      since: timeParam,
      limit: limitParam,
    },
    additionalProperties: false,
  },
  logs: {
    type: 'object',
    properties: {
      agent: { type: 'string', minLength: 1 },
      severityMin: { type: 'integer', minimum: 0, maximum: 24 },
      contains: { type: 'string', minLength: 1 },
      since: timeParam,
      limit: limitParam,
    },
    additionalProperties: false,
  },
} as const;

interface SeriesQuery {
  name?: string;
  agent?: string;
  label?: string[];
  limit?: number;
}
interface SamplesQuery {
  series: string;
  from?: string;
  to?: string;
  step?: string;
  agg?: StepAggregation;
}
interface LatestQuery {
  name?: string;
  agent?: string;
}
interface SpansQuery {
  agent?: string;
  name?: string;
  traceId?: string;
  since?: string;
  limit?: number;
}
interface LogsQuery {
  agent?: string;
  severityMin?: number;
  contains?: string;
  since?: string;
  limit?: number;
}

function requiredTime(name: string, text: string | undefined, fallback: number, nowMillis: number): number {
  if (text === undefined) return fallback;
  const parsed = parseTimeMillis(text, nowMillis);
  if (parsed === undefined) throw new BadParameter(name, text, 'is not a time: use milliseconds since the epoch, ISO 8601, "now" or a relative time like "-1h"');
  if (!Number.isSafeInteger(Math.round(parsed)) || parsed < 0 || parsed > maxTimeMillis) {
    throw new BadParameter(name, text, `is out of range: times go from 0 (1970-01-01) to ${maxTimeMillis} (9999-12-31)`);
  }
  return parsed;
}

function parseLabelFilters(values: readonly string[] | undefined): Record<string, string> {
  const labels: Record<string, string> = {};
  for (const value of values ?? []) {
    const eq = value.indexOf('=');
    if (eq <= 0) throw new BadParameter('label', value, 'must look like key=value');
    labels[value.slice(0, eq)] = value.slice(eq + 1);
  }
  return labels;
}

function pointView(point: MetricPoint): Record<string, unknown> {
  return {
    key: point.seriesKey,
    name: point.name,
    agentId: point.agentId,
    kind: point.kind,
    unit: point.unit,
    labels: point.labels,
    t: point.timestampMillis,
    v: point.value ?? (point.count !== undefined && point.sum !== undefined && point.count > 0 ? point.sum / point.count : null),
    ...(point.count === undefined ? {} : { count: point.count }),
    ...(point.sum === undefined ? {} : { sum: point.sum }),
    ...(point.bounds === undefined ? {} : { bounds: point.bounds, bucketCounts: point.bucketCounts }),
  };
}

/**
 * The collector's read-only query API under `/api/v1/`, on an app made by
 * core's `createApi`: every route needs a token (none declares itself
 * public), and errors use the standard `{ code, message, details }` body.
 */
export function registerQueryApi(app: FastifyInstance, deps: QueryApiDeps): void {
  registerAggregateRoute(app, deps);
  const now = deps.nowMillis ?? Date.now;

  /** Runs a handler once the store holds every acknowledged write; schema failures and bad parameters are answered 400 by createApi. */
  function guarded<Q>(handler: (query: Q, reply: FastifyReply) => unknown, readsStore = true) {
    return async (request: FastifyRequest, reply: FastifyReply): Promise<unknown> => {
      if (readsStore && deps.caughtUp !== undefined) await deps.caughtUp();
      return handler(request.query as Q, reply);
    };
  }

  app.get('/api/v1/agents', { schema: { querystring: schemas.agents, response: jsonResponses(agentsResponseSchema) } }, async () => ({
    agents: deps.registry.list().map((a) => ({
      id: a.id,
      principal: a.principal,
      state: a.state,
      firstSeenMillis: a.firstSeenMillis,
      lastSeenMillis: a.lastSeenMillis,
      attributes: a.attributes,
    })),
  }));

  app.get(
    '/api/v1/series',
    { schema: { querystring: schemas.series, response: jsonResponses(seriesResponseSchema) } },
    guarded<SeriesQuery>((q) => ({
      series: deps.store
        .listSeries({
          ...(q.name === undefined ? {} : { name: q.name }),
          ...(q.agent === undefined ? {} : { agentId: q.agent }),
          labels: parseLabelFilters(q.label),
          limit: q.limit ?? 1000,
        })
        .map((s) => ({ key: s.key, name: s.name, agentId: s.agentId, kind: s.kind, unit: s.unit, labels: s.labels })),
    })),
  );

  app.get(
    '/api/v1/samples',
    { schema: { querystring: schemas.samples, response: jsonResponses(samplesResponseSchema) } },
    guarded<SamplesQuery>((q) => {
      const nowMillis = now();
      const toMillis = requiredTime('to', q.to, nowMillis, nowMillis);
      const fromMillis = requiredTime('from', q.from, toMillis - 3_600_000, nowMillis);
      if (fromMillis > toMillis) throw new BadParameter('from', q.from, `is after "to" (${new Date(toMillis).toISOString()})`);
      let stepMillis: number | undefined;
      if (q.step !== undefined) {
        stepMillis = parseDurationMillis(q.step);
        if (stepMillis === undefined || stepMillis < 1) throw new BadParameter('step', q.step, 'is not a duration: use milliseconds or e.g. "30s", "5m", "1h"');
        const buckets = Math.floor((toMillis - fromMillis) / stepMillis) + 1;
        if (buckets > maxSamplePoints) throw new BadParameter('step', q.step, `gives ${buckets} buckets over the range; at most ${maxSamplePoints} are allowed`);
      } else if (q.agg !== undefined) {
        throw new BadParameter('agg', q.agg, 'needs "step"');
      }
      const series = deps.store.getSeries(q.series);
      if (series === undefined) throw new HttpError(404, 'SLOTH_ERR_NOT_FOUND', `unknown series ${JSON.stringify(q.series)}`, { series: q.series });
      const points =
        deps.store.samples({
          seriesKey: q.series,
          fromMillis,
          toMillis,
          ...(stepMillis === undefined ? {} : { stepMillis, agg: q.agg ?? 'avg' }),
          limit: maxSamplePoints + 1,
        }) ?? [];
      const truncated = points.length > maxSamplePoints;
      if (truncated) points.length = maxSamplePoints;
      return {
        series: { key: series.key, name: series.name, agentId: series.agentId, kind: series.kind, unit: series.unit, labels: series.labels },
        fromMillis,
        toMillis,
        ...(stepMillis === undefined ? {} : { stepMillis, agg: q.agg ?? 'avg' }),
        // More points than one answer carries: ask again from the last t, or use a step.
        ...(truncated ? { truncated: true } : {}),
        points,
      };
    }),
  );

  app.get(
    '/api/v1/latest',
    { schema: { querystring: schemas.latest, response: jsonResponses(latestResponseSchema) } },
    guarded<LatestQuery>((q) => {
      const points: Array<Record<string, unknown>> = [];
      for (const point of deps.latest.entries()) {
        if (q.name !== undefined && point.name !== q.name) continue;
        if (q.agent !== undefined && point.agentId !== q.agent) continue;
        points.push(pointView(point));
      }
      points.sort((a, b) => ((a.key as string) < (b.key as string) ? -1 : 1));
      return { points };
    }, false),
  );

  app.get(
    '/api/v1/spans',
    { schema: { querystring: schemas.spans, response: jsonResponses(spansResponseSchema) } },
    guarded<SpansQuery>((q) => {
      const nowMillis = now();
      return {
        spans: deps.store.spans({
          ...(q.agent === undefined ? {} : { agentId: q.agent }),
          ...(q.name === undefined ? {} : { name: q.name }),
          ...(q.traceId === undefined ? {} : { traceId: q.traceId }),
          ...(q.since === undefined ? {} : { sinceMillis: requiredTime('since', q.since, 0, nowMillis) }),
          limit: q.limit ?? 100,
        }),
      };
    }),
  );

  app.get(
    '/api/v1/logs',
    { schema: { querystring: schemas.logs, response: jsonResponses(logsResponseSchema) } },
    guarded<LogsQuery>((q) => {
      const nowMillis = now();
      return {
        logs: deps.store.logs({
          ...(q.agent === undefined ? {} : { agentId: q.agent }),
          ...(q.severityMin === undefined ? {} : { severityMin: q.severityMin }),
          ...(q.contains === undefined ? {} : { contains: q.contains }),
          ...(q.since === undefined ? {} : { sinceMillis: requiredTime('since', q.since, 0, nowMillis) }),
          limit: q.limit ?? 100,
        }),
      };
    }),
  );
}
