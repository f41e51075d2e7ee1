import type { FastifyInstance, FastifyRequest } from 'fastify';
import { HttpError, aggregateResponseSchema, jsonResponses } from '@sloth/core';
import { maxSamplePoints, parseDurationMillis, parseTimeMillis } from './query-api.js';
import type { AggregateResult, MetricsReader } from './store/metric-reader.js';
import { bucketCount, seriesAggregations, type SeriesAggregation } from './store/series-aggregation.js';

export interface AggregateRouteDeps {
  readonly store: Pick<MetricsReader, 'aggregate'>;
  /** Resolves when the store holds every acknowledged write (as for the other store queries). */
  readonly caughtUp?: () => Promise<void>;
  /** The clock, for relative times like `-1h`. @defaultValue Date.now */
  readonly nowMillis?: () => number;
}

/** Most label names one query may group by. */
const maxGroupLabels = 10;
/** Latest time a query may name: the end of year 9999. */
const maxTimeMillis = 253_402_300_799_999;
const defaultStepMillis = 60_000;

const querySchema = {
  type: 'object',
  required: ['name', 'agg'],
  properties: {
    name: { type: 'string', minLength: 1, maxLength: 256 },
    agg: { type: 'string', minLength: 1, maxLength: 16 },
    by: { type: 'string', maxLength: 1024 },
    agent: { type: 'string', minLength: 1 },
    label: { type: 'array', items: { type: 'string' } },
    from: { type: 'string', minLength: 1, maxLength: 64 },
    to: { type: 'string', minLength: 1, maxLength: 64 },
    step: { type: 'string', minLength: 1, maxLength: 32 },
  },
  additionalProperties: false,
} as const;

interface AggregateQueryString {
  name: string;
  agg: string;
  by?: string;
  agent?: string;
  label?: string[];
  from?: string;
  to?: string;
  step?: string;
}

function badParameter(parameter: string, value: unknown, reason: string): HttpError {
  return new HttpError(400, 'SLOTH_ERR_BAD_REQUEST', `query parameter "${parameter}"${value === undefined ? '' : ` = ${JSON.stringify(value)}`} ${reason}`, {
    parameter,
    ...(value === undefined ? {} : { value }),
  });
}

function timeParameter(name: string, text: string | undefined, fallback: number, nowMillis: number): number {
  if (text === undefined) return fallback;
  const parsed = parseTimeMillis(text, nowMillis);
  if (parsed === undefined) throw badParameter(name, text, 'is not a time: use milliseconds since the epoch, ISO 8601, "now" or a relative time like "-1h"');
  if (!Number.isSafeInteger(Math.round(parsed)) || parsed < 0 || parsed > maxTimeMillis) {
    throw badParameter(name, text, `is out of range: times go from 0 (1970-01-01) to ${maxTimeMillis} (9999-12-31)`);
  }
  return Math.floor(parsed);
}

function formatDuration(millis: number): string {
  return millis % 1000 === 0 ? `${millis / 1000}s` : `${millis}ms`;
}

/**
 * `GET /api/v1/query`: one metric's series combined per step in the store
 * (`agg` = sum, avg, min, max, count, or rate for counters), grouped by the
 * labels named in `by`. Authenticated like every query route (it declares
 * no `auth`, so createApi asks for a token).
 */
export function registerAggregateRoute(app: FastifyInstance, deps: AggregateRouteDeps): void {
  const now = deps.nowMillis ?? Date.now;
  app.get('/api/v1/query', { schema: { querystring: querySchema, response: jsonResponses(aggregateResponseSchema) } }, async (request: FastifyRequest) => {
    const q = request.query as AggregateQueryString;
    if (!(seriesAggregations as readonly string[]).includes(q.agg)) throw badParameter('agg', q.agg, `is not an aggregation: use one of ${seriesAggregations.join(', ')}`);
    const agg = q.agg as SeriesAggregation;
    const by = q.by === undefined || q.by.trim() === '' ? [] : q.by.split(',').map((name) => name.trim());
    if (by.some((name) => name === '')) throw badParameter('by', q.by, 'has an empty label name: use label names separated by commas, e.g. "agent,cpu.state"');
    if (new Set(by).size !== by.length) throw badParameter('by', q.by, 'names a label twice');
    if (by.length > maxGroupLabels) throw badParameter('by', q.by, `names ${by.length} labels; at most ${maxGroupLabels} are allowed`);
    const labels: Record<string, string> = {};
    for (const filter of q.label ?? []) {
      const eq = filter.indexOf('=');
      if (eq <= 0) throw badParameter('label', filter, 'must look like key=value');
      labels[filter.slice(0, eq)] = filter.slice(eq + 1);
    }
    const nowMillis = now();
    const toMillis = timeParameter('to', q.to, nowMillis, nowMillis);
    const fromMillis = timeParameter('from', q.from, toMillis - 3_600_000, nowMillis);
    if (fromMillis > toMillis) throw badParameter('from', q.from, `is after "to" (${new Date(toMillis).toISOString()})`);
    const stepMillis = q.step === undefined ? defaultStepMillis : parseDurationMillis(q.step);
    if (stepMillis === undefined || !Number.isFinite(stepMillis) || stepMillis < 1) throw badParameter('step', q.step, 'is not a duration: use milliseconds or e.g. "10s", "5m", "1h"');
    const step = Math.floor(stepMillis);
    const points = bucketCount(fromMillis, toMillis, step);
    if (points > maxSamplePoints) {
      const smallestMillis = Math.ceil((toMillis - fromMillis + 1) / maxSamplePoints);
      const smallest = smallestMillis > 1000 ? Math.ceil(smallestMillis / 1000) * 1000 : smallestMillis;
      throw badParameter('step', q.step ?? formatDuration(step), `gives ${points} points over the range; at most ${maxSamplePoints} are allowed: use a step of at least ${formatDuration(smallest)} or a shorter range`);
    }
    if (deps.caughtUp !== undefined) await deps.caughtUp();
    let result: AggregateResult;
    try {
      result = deps.store.aggregate({
        name: q.name,
        agg,
        by,
        ...(q.agent === undefined ? {} : { agentId: q.agent }),
        ...(Object.keys(labels).length === 0 ? {} : { labels }),
        fromMillis,
        toMillis,
        stepMillis: step,
      });
    } catch (error) {
      // The store's refusals (rate on a gauge, a histogram, too many series) are the client's to fix. Matched by code:
      // the store imports core's errors by subpath, which need not be the same class instance as the package index's.
      const { code, message, details } = error as { code?: unknown; message?: unknown; details?: Record<string, unknown> };
      if (code === 'SLOTH_ERR_BAD_REQUEST' && typeof message === 'string') throw new HttpError(400, 'SLOTH_ERR_BAD_REQUEST', message, details);
      throw error;
    }
    return { name: q.name, agg, by, fromMillis, toMillis, stepMillis: step, series: result.series, groups: result.groups };
  });
}
