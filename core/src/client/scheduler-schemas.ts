import { z } from 'zod';
import { remediationStates } from '../remediation.js';

/**
 * Response schemas of the scheduler API (docs/scheduler.md). Like the query
 * API's, objects are loose: the fields named here are the ones readers rely
 * on, and the server passes every other field through unchanged (its JSON
 * schema, generated from these, allows them), so client and server cannot drift.
 */

/** `GET /healthz` of every role's API. */
export const healthResponseSchema = z.looseObject({ status: z.literal('ok') });

export const remediationRecordSchema = z.looseObject({
  id: z.string(),
  agentId: z.string(),
  playbook: z.string(),
  state: z.enum(remediationStates),
  dryRun: z.boolean(),
  createdAtMillis: z.number(),
  approvedBy: z.string().nullable(),
  rejectedBy: z.string().nullable(),
  reason: z.string().nullable(),
});
export type RemediationRecordView = z.infer<typeof remediationRecordSchema>;
export const remediationsResponseSchema = z.looseObject({ remediations: z.array(remediationRecordSchema) });

/** Where a task would run, or why nowhere (`POST /api/v1/tasks/plan`, and a task's `decision`). */
export const placementDecisionSchema = z.looseObject({
  agentId: z.string().nullable(),
  strategy: z.string(),
  evaluated: z.number(),
  candidates: z.array(z.looseObject({})),
  explanation: z.string(),
});

export const taskAttemptSchema = z.looseObject({
  attempt: z.number(),
  agentId: z.string(),
  runId: z.string(),
  placedAtMillis: z.number(),
  startedAtMillis: z.number().nullable(),
  finishedAtMillis: z.number().nullable(),
  outcome: z.string().nullable(),
  message: z.string().nullable(),
  redeliveries: z.number().optional(),
});

export const taskRecordSchema = z.looseObject({
  id: z.string(),
  spec: z.looseObject({}),
  state: z.string(),
  submittedBy: z.string(),
  createdAtMillis: z.number(),
  updatedAtMillis: z.number(),
  decision: placementDecisionSchema.nullable(),
  reason: z.string().nullable(),
  attempts: z.array(taskAttemptSchema),
  avoidAgents: z.array(z.string()),
});
export type TaskRecordView = z.infer<typeof taskRecordSchema>;
export const tasksResponseSchema = z.looseObject({ tasks: z.array(taskRecordSchema) });

export const drainResponseSchema = z.looseObject({ agentId: z.string(), drained: z.boolean(), message: z.string().optional() });
export const drainedAgentsResponseSchema = z.looseObject({ agents: z.array(z.string()) });

export const scalingDecisionSchema = z.looseObject({
  step: z.number(),
  timestampMillis: z.number(),
  demand: z.number(),
  mode: z.string(),
  previousReplicas: z.number(),
  replicas: z.number(),
  action: z.enum(['scale-out', 'scale-in', 'hold']),
  reasons: z.array(z.string()),
});
export const scalingTargetsResponseSchema = z.looseObject({
  targets: z.array(
    z.looseObject({
      name: z.string(),
      mode: z.string(),
      demandSeries: z.string(),
      minReplicas: z.number(),
      maxReplicas: z.number(),
      lastDecision: scalingDecisionSchema.nullable(),
    }),
  ),
});
export const scalingDecisionsResponseSchema = z.looseObject({ decisions: z.array(scalingDecisionSchema) });
