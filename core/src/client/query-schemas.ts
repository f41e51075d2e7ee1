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
