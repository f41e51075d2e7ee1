import { z } from 'zod';
import { defaultSpendBudgetRatio } from './policy.js';

const windowSchema = z.strictObject({
  /** UTC days of week, 0 = Sunday; every day when absent. */
  days: z.array(z.number().int().min(0).max(6)).min(1).optional(),
  fromHour: z.number().int().min(0).max(23),
  toHour: z.number().int().min(1).max(24),
  minReplicas: z.number().int().min(0).optional(),
  maxReplicas: z.number().int().min(1).optional(),
});

const actuatorSchema = z.discriminatedUnion('kind', [
  z.strictObject({
    kind: z.literal('webhook'),
    url: z.url(),
    /** HMAC-SHA256 key for `X-Sloth-Signature` (never logged). */
    secret: z.string().min(16, 'webhook secrets must be at least 16 characters'),
    /** @defaultValue 10 */
    timeoutSeconds: z.number().positive().max(300).default(10),
  }),
  z.strictObject({
    kind: z.literal('playbook'),
    /** A playbook of the scheduler's directory; it gets params `target`, `replicas`, `previous`. */
    playbook: z.string().min(1),
    /** The agent that runs it. */
    agent: z.string().min(1),
  }),
]);

/** One `scheduler.scaling[]` target. */
export const scalingTargetSchema = z
  .strictObject({
    name: z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, 'target names are 1–64 letters, digits, "_", "." or "-"'),
    /** The demand series: its key as the collector and `sloth:forecasts` name it (`http.server.requests{agent="web-1"}`). */
    demandSeries: z.string().min(1),
    capacityPerReplica: z.number().positive(),
    minReplicas: z.number().int().min(0, 'minReplicas cannot be negative'),
    maxReplicas: z.number().int().min(1),
    windows: z.array(windowSchema).default([]),
    /** Time from asking for a replica to it serving load. */
    startupSeconds: z.number().min(0),
    /** Time between decisions. @defaultValue 60 */
    intervalSeconds: z.number().positive().default(60),
    /** Relative costs that pick the forecast quantile (critical ratio, within p50…p90). @defaultValue 4 and 1 (p80) */
    underProvisioningCost: z.number().positive().default(4),
    overProvisioningCost: z.number().positive().default(1),
    /** @defaultValue 0.9 */
    targetUtilization: z.number().gt(0).max(1).default(0.9),
    /** @defaultValue 2 × intervalSeconds */
    scaleInStabilizationSeconds: z.number().min(0).optional(),
    maxScaleOutPerDecision: z.number().int().min(1).optional(),
    /** Share of the replicas removed in one decision at most; 1 leaves pacing to the stabilisation window. @defaultValue 1 */
    maxScaleInFraction: z.number().gt(0).max(1).default(1),
    /** Most learnt headroom planned, as a multiple of the base load. @defaultValue unbounded (the spend budget bounds what a spiky past costs) */
    maxHeadroomFactor: z.number().min(1).optional(),
    /**
     * Replicas held over the headroom window per replica a reactive autoscaler (70 % aim, ±10 %, 5-minute
     * stabilisation) replayed on the same demand holds, at most: the learnt headroom covers as many past
     * outcomes as fit it, never fewer than the cost level's share; null: no budget, the cost level alone. @defaultValue 1.1
     */
    spendBudgetRatio: z.number().positive().nullable().default(defaultSpendBudgetRatio),
    /** Never request fewer replicas than that reactive autoscaler would now: forecasts only add capacity to it. @defaultValue false */
    referenceFloor: z.boolean().default(false),
    /** Decisions before forecasts are trusted at all. @defaultValue 48 */
    minHistory: z.number().int().min(1).default(48),
    /** @defaultValue 0.5 */
    minCoverage: z.number().min(0).max(1).default(0.5),
    /** @defaultValue 1.5 */
    maxMase: z.number().positive().default(1.5),
    /** `forecast-only` decides and records without acting (evaluate first); `act` calls the actuator. @defaultValue `forecast-only` */
    mode: z.enum(['forecast-only', 'act']).default('forecast-only'),
    actuator: actuatorSchema.optional(),
    /** Replicas running when the scheduler starts. @defaultValue minReplicas */
    initialReplicas: z.number().int().min(0).optional(),
  })
  .refine((t) => t.maxReplicas >= t.minReplicas, { message: 'maxReplicas must be ≥ minReplicas', path: ['maxReplicas'] })
  .refine((t) => t.mode === 'forecast-only' || t.actuator !== undefined, { message: 'mode "act" needs an actuator (webhook or playbook)', path: ['actuator'] });

export type ScalingTargetConfig = z.infer<typeof scalingTargetSchema>;

/** `scheduler.scaling` in the config file; names must be unique. */
export const scalingConfigSchema = z
  .array(scalingTargetSchema)
  .default([])
  .refine((targets) => new Set(targets.map((t) => t.name)).size === targets.length, { message: 'scaling target names must be unique' });
