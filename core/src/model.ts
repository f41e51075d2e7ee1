import { z } from 'zod';

/**
 * The sample/series model shared by every role.
 *
 * A series is a metric name plus a set of labels (resource and point
 * attributes flattened to strings). Its identity is the canonical string
 * `name{k1="v1",k2="v2"}` with labels sorted by key, as in Prometheus.
 */
export type Labels = Readonly<Record<string, string>>;

export interface SeriesRef {
  readonly name: string;
  readonly labels: Labels;
}

export interface Sample {
  /** Canonical series id, see {@link seriesId}. */
  readonly seriesId: string;
  readonly name: string;
  readonly labels: Labels;
  /** The agent (resource) that sent it. */
  readonly agentId: string;
  readonly timestampMillis: number;
  readonly value: number;
}

/** Kinds of metric points the collector stores. */
export type MetricKind = 'gauge' | 'sum' | 'histogram' | 'summary' | 'exponential_histogram';

function escapeLabelValue(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
}

/** The canonical id of a series: `name{k="v",…}`, labels sorted by key. */
export function seriesId(name: string, labels: Labels): string {
  const keys = Object.keys(labels).sort();
  if (keys.length === 0) return name;
  const parts = keys.map((k) => `${k}="${escapeLabelValue(labels[k] ?? '')}"`);
  return `${name}{${parts.join(',')}}`;
}

/** Parses a canonical series id back into name and labels. */
export function parseSeriesId(id: string): SeriesRef {
  const brace = id.indexOf('{');
  if (brace < 0) return { name: id, labels: {} };
  if (!id.endsWith('}')) throw new Error(`malformed series id ${JSON.stringify(id)}: missing closing brace`);
  const name = id.slice(0, brace);
  const body = id.slice(brace + 1, -1);
  const labels: Record<string, string> = {};
  let i = 0;
  while (i < body.length) {
    const eq = body.indexOf('=', i);
    if (eq < 0 || body[eq + 1] !== '"') throw new Error(`malformed series id ${JSON.stringify(id)} at offset ${i}`);
    const key = body.slice(i, eq);
    let j = eq + 2;
    let value = '';
    while (j < body.length && body[j] !== '"') {
      if (body[j] === '\\') {
        const next = body[j + 1];
        value += next === 'n' ? '\n' : (next ?? '');
        j += 2;
      } else {
        value += body[j];
        j += 1;
      }
    }
    if (j >= body.length) throw new Error(`malformed series id ${JSON.stringify(id)}: unterminated label value`);
    labels[key] = value;
    i = j + 1;
    if (body[i] === ',') i += 1;
  }
  return { name, labels };
}

// ---------------------------------------------------------------------------
// Payloads that cross process boundaries (Redis streams). Defined once here;
// the samples stream's layouts are in samples-stream.ts.

/** Transitions of an anomaly incident: one `open`, rate-limited `update`s, one `resolved`. */
export const incidentStates = ['open', 'update', 'resolved'] as const;
export type IncidentState = (typeof incidentStates)[number];

/** A group of incidents as an anomaly entry carries it: how many there are and the top ones, ranked by peak score. */
export const incidentGroupSchema = z.object({
  /** Sample time of the group's first incident's first anomalous sample. */
  firstSeenMillis: z.number(),
  /** Incidents in the group (`members` may be cut to the highest ranked). */
  incidents: z.number().int().min(1),
  members: z.array(
    z.object({
      incidentId: z.string().min(1),
      seriesId: z.string(),
      metric: z.string(),
      direction: z.enum(['above', 'below']),
      peakScore: z.number().min(0).max(1),
      state: z.enum(incidentStates),
    }),
  ),
});
export type IncidentGroupSummary = z.infer<typeof incidentGroupSchema>;

/**
 * An entry of `sloth:anomalies`: a transition of an incident (anomalous samples of one series
 * close together in time). `timestampMillis`, `value`, `score` and the expected range are those of
 * the latest sample of the incident; `expectedLow`/`expectedHigh` are the detector's p10–p90.
 * The incident fields are optional in the schema only so that entries written before they existed
 * still parse; analytics always sets them.
 */
export const anomalyEventSchema = z.object({
  seriesId: z.string(),
  agentId: z.string(),
  metric: z.string(),
  timestampMillis: z.number(),
  value: z.number(),
  score: z.number().min(0).max(1),
  expectedLow: z.number().nullable(),
  expectedHigh: z.number().nullable(),
  modelVersion: z.string(),
  /** Stable id of the incident this transition belongs to. */
  incidentId: z.string().min(1).optional(),
  state: z.enum(incidentStates).optional(),
  /** Whether the incident's samples lie above or below the expected range. */
  direction: z.enum(['above', 'below']).optional(),
  /** Sample time of the incident's first anomalous sample. */
  firstSeenMillis: z.number().optional(),
  /** Highest score of the incident so far. */
  peakScore: z.number().min(0).max(1).optional(),
  /** What opened the incident: an unlikely value (`score`) or a sustained shift of level (`drift`, e.g. a slow leak). */
  cause: z.enum(['score', 'drift']).optional(),
  /** Incidents of one agent that opened close together in time share a group (analytics `incidentGroupMillis`). */
  groupId: z.string().min(1).optional(),
  /** The group as it stands at this transition: its incidents ranked by peak score, highest first. */
  group: incidentGroupSchema.optional(),
});
export type AnomalyEvent = z.infer<typeof anomalyEventSchema>;

/** A forecast published on `sloth:forecasts`. */
export const forecastMessageSchema = z.object({
  seriesId: z.string(),
  agentId: z.string(),
  metric: z.string(),
  issuedAtMillis: z.number(),
  stepMillis: z.number().positive(),
  points: z.array(z.object({ timestampMillis: z.number(), p10: z.number(), p50: z.number(), p90: z.number() })),
  model: z.string(),
  modelVersion: z.string(),
});
export type ForecastMessage = z.infer<typeof forecastMessageSchema>;

/** Events on `sloth:events`: agent up/down, health checks, alerts, remediation. */
export const slothEventSchema = z.object({
  type: z.string().min(1),
  agentId: z.string().optional(),
  timestampMillis: z.number(),
  /** Free-form attributes: check name and state, alert name and level, … */
  attributes: z.record(z.string(), z.unknown()).default({}),
});
export type SlothEvent = z.infer<typeof slothEventSchema>;

/** Encodes any JSON payload as a single-field stream entry (`data`). */
export function encodeJsonMessage(payload: unknown): string[] {
  return ['data', JSON.stringify(payload)];
}

/** Decodes a single-field stream entry written by {@link encodeJsonMessage}. */
export function decodeJsonMessage<T>(fields: readonly string[], schema: z.ZodType<T>): T {
  const index = fields.indexOf('data');
  if (index < 0 || index + 1 >= fields.length) throw new Error('stream entry has no "data" field');
  return schema.parse(JSON.parse(fields[index + 1] as string));
}
