import { z } from 'zod';

/**
 * Response schemas of the collector's query API (`/api/v1/*`, docs/query-api.md).
 * Objects are loose: a newer collector may add fields without breaking older readers.
 */

const labels = z.record(z.string(), z.string());

export const agentInfoSchema = z.looseObject({
  id: z.string(),
  principal: z.string(),
  state: z.enum(['up', 'down']),
  firstSeenMillis: z.number(),
  lastSeenMillis: z.number(),
  attributes: labels,
});
export type AgentInfo = z.infer<typeof agentInfoSchema>;
export const agentsResponseSchema = z.looseObject({ agents: z.array(agentInfoSchema) });

export const seriesInfoSchema = z.looseObject({
  key: z.string(),
  name: z.string(),
  agentId: z.string(),
  kind: z.string(),
  unit: z.string(),
  labels,
});
export type SeriesInfo = z.infer<typeof seriesInfoSchema>;
export const seriesResponseSchema = z.looseObject({ series: z.array(seriesInfoSchema) });

export const samplePointSchema = z.looseObject({ t: z.number(), v: z.number().nullable() });
export type SamplePoint = z.infer<typeof samplePointSchema>;

export const stepAggregations = ['avg', 'min', 'max', 'last'] as const;
export type StepAggregation = (typeof stepAggregations)[number];

export const samplesResponseSchema = z.looseObject({
  // Optional: readers need only the points, and older collectors and stand-ins omit it.
  series: seriesInfoSchema.optional(),
  fromMillis: z.number(),
  toMillis: z.number(),
  stepMillis: z.number().optional(),
  agg: z.enum(stepAggregations).optional(),
  truncated: z.boolean().optional(),
  points: z.array(samplePointSchema),
});
export type SamplesResponse = z.infer<typeof samplesResponseSchema>;

export const latestPointSchema = z.looseObject({
  key: z.string(),
  name: z.string(),
  agentId: z.string(),
  kind: z.string(),
  unit: z.string(),
  labels,
  t: z.number(),
  v: z.number().nullable(),
  count: z.number().optional(),
  sum: z.number().optional(),
});
export type LatestPoint = z.infer<typeof latestPointSchema>;
export const latestResponseSchema = z.looseObject({ points: z.array(latestPointSchema) });

/**
 * {@link latestResponseSchema}'s check written out: the same rules, without
 * copying each point. The alerts role reads 100,000 points per evaluation,
 * and zod's copy of every point and its labels was a third of the read.
 * Returns the path and problem of the first mismatch.
 */
export function checkLatestResponse(body: unknown): { ok: true; value: { points: LatestPoint[] } } | { ok: false; path: string; message: string } {
  const bad = (path: string, expected: string, value: unknown): { ok: false; path: string; message: string } => ({ ok: false, path, message: `expected ${expected}, received ${value === null ? 'null' : Array.isArray(value) ? 'array' : typeof value}` });
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return bad('', 'object', body);
  const points = (body as { points?: unknown }).points;
  if (!Array.isArray(points)) return bad('points', 'array', points);
  for (let i = 0; i < points.length; i += 1) {
    const p = points[i] as Record<string, unknown>;
    if (typeof p !== 'object' || p === null || Array.isArray(p)) return bad(`points.${i}`, 'object', p);
    for (const name of ['key', 'name', 'agentId', 'kind', 'unit'] as const) if (typeof p[name] !== 'string') return bad(`points.${i}.${name}`, 'string', p[name]);
    const l = p.labels;
    if (typeof l !== 'object' || l === null || Array.isArray(l)) return bad(`points.${i}.labels`, 'record', l);
    for (const name in l) if (typeof (l as Record<string, unknown>)[name] !== 'string') return bad(`points.${i}.labels.${name}`, 'string', (l as Record<string, unknown>)[name]);
    if (typeof p.t !== 'number') return bad(`points.${i}.t`, 'number', p.t);
    if (p.v !== null && typeof p.v !== 'number') return bad(`points.${i}.v`, 'number or null', p.v);
    if (p.count !== undefined && typeof p.count !== 'number') return bad(`points.${i}.count`, 'number', p.count);
    if (p.sum !== undefined && typeof p.sum !== 'number') return bad(`points.${i}.sum`, 'number', p.sum);
  }
  return { ok: true, value: { points: points as LatestPoint[] } };
}

export const spanSchema = z.looseObject({
  traceId: z.string(),
  spanId: z.string(),
  parentSpanId: z.string().nullable().optional(),
  name: z.string(),
  kind: z.union([z.number(), z.string()]).optional(),
  agentId: z.string(),
  serviceName: z.string().nullable().optional(),
  startMillis: z.number(),
  endMillis: z.number(),
  statusCode: z.union([z.number(), z.string()]).optional(),
  statusMessage: z.string().nullable().optional(),
  attributes: z.record(z.string(), z.unknown()).optional(),
});
export type SpanRecord = z.infer<typeof spanSchema>;
export const spansResponseSchema = z.looseObject({ spans: z.array(spanSchema) });

export const logSchema = z.looseObject({
  timestampMillis: z.number(),
  agentId: z.string(),
  serviceName: z.string().nullable().optional(),
  severityNumber: z.number().nullable().optional(),
  severityText: z.string().nullable().optional(),
  body: z.unknown(),
  traceId: z.string().nullable().optional(),
  spanId: z.string().nullable().optional(),
  attributes: z.record(z.string(), z.unknown()).optional(),
});
export type LogRecord = z.infer<typeof logSchema>;
export const logsResponseSchema = z.looseObject({ logs: z.array(logSchema) });

/**
 * One group of `GET /api/v1/query` (server-side aggregation over many series):
 * the values of the `by` labels that define the group and its points.
 */
export const aggregateGroupSchema = z.looseObject({
  labels: z.record(z.string(), z.string()).default({}),
  /** How many series the group combines. */
  series: z.number().optional(),
  points: z.array(samplePointSchema),
});
export type AggregateGroup = z.infer<typeof aggregateGroupSchema>;
export const aggregateResponseSchema = z.looseObject({
  name: z.string().optional(),
  agg: z.string().optional(),
  by: z.array(z.string()).optional(),
  /** How many series matched. */
  series: z.number().optional(),
  fromMillis: z.number().optional(),
  toMillis: z.number().optional(),
  stepMillis: z.number().optional(),
  groups: z.array(aggregateGroupSchema),
});
export type AggregateResponse = z.infer<typeof aggregateResponseSchema>;

/** The one error body every Sloth HTTP API answers with. */
export const apiErrorBodySchema = z.looseObject({
  code: z.string(),
  message: z.string(),
  details: z.record(z.string(), z.unknown()).optional(),
});
