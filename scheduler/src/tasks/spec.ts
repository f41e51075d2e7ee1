import { z } from 'zod';
import { InputError } from '@sloth/core';
import { placementStrategies, type PlacementDecision, type PlacementRequest } from '../placement/placer.js';

const labelName = z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, 'label names are 1–64 letters, digits, "_", "." or "-"');

/** A task submission (`POST /api/v1/tasks`, `sloth task submit`). Exactly one of `playbook` or `command`. */
export const taskSpecSchema = z
  .strictObject({
    /** Free text shown in lists: one line, no control characters (they would break or recolour a terminal). */
    name: z
      .string()
      .min(1)
      .max(200)
      .regex(/^[^\p{Cc}]*$/u, 'a name is one line of text without control characters (newlines, tabs, terminal escapes)')
      .optional(),
    /** Name of a playbook in the scheduler's playbook directory. */
    playbook: z.string().min(1).optional(),
    /** argv of an allow-listed command (never a shell). */
    command: z.array(z.string()).min(1).optional(),
    params: z.record(z.string(), z.unknown()).default({}),
    /** 1 (most urgent) … 1000. @defaultValue 100 */
    priority: z.number().int().min(1).max(1000).default(100),
    /** What to reserve on the agent (required: placement filters and reserves by it). */
    resources: z.strictObject(
      {
        cpuCores: z.number({ error: (issue) => (issue.input === undefined ? 'required: the CPU cores to reserve (sloth task submit --cpu N)' : undefined) }).positive().max(1024),
        memoryMb: z.number({ error: (issue) => (issue.input === undefined ? 'required: the memory to reserve in MB (sloth task submit --memory-mb M)' : undefined) }).positive().max(16 * 1024 * 1024),
      },
      { error: (issue) => (issue.input === undefined ? 'required: the CPU cores and memory to reserve, { "cpuCores": N, "memoryMb": M } (sloth task submit --cpu N --memory-mb M)' : undefined) },
    ),
    /** Labels an agent must carry (`{ zone: "eu-1" }`). */
    constraints: z.record(labelName, z.string()).default({}),
    /** Weighted preferences; a negative weight is anti-affinity. */
    affinity: z.array(z.strictObject({ label: labelName, value: z.string(), weight: z.number().min(-100).max(100) })).max(32).default([]),
    /** `bin-pack` or `spread`; the cluster default when absent. */
    strategy: z.enum(placementStrategies).optional(),
    /** @defaultValue 300 */
    timeoutSeconds: z.number().positive().max(7 * 24 * 3600).default(300),
    retries: z
      .strictObject({
        /** Further attempts after the first. @defaultValue 0 */
        attempts: z.number().int().min(0).max(20).default(0),
        /** Delay before the first retry, doubled each time. @defaultValue 5 */
        backoffSeconds: z.number().min(0).max(3600).default(5),
      })
      .default({ attempts: 0, backoffSeconds: 5 }),
  })
  .refine((spec) => (spec.playbook === undefined) !== (spec.command === undefined), { message: 'give exactly one of "playbook" (a playbook name) or "command" (an argv list)', path: ['playbook'] });

export type TaskSpec = z.infer<typeof taskSpecSchema>;

/** The placement request of a task spec (plus agents to avoid on a retry). */
export function placementRequest(spec: TaskSpec, avoidAgents: readonly string[] = []): PlacementRequest {
  return {
    cpuCores: spec.resources.cpuCores,
    memoryMb: spec.resources.memoryMb,
    constraints: spec.constraints,
    affinities: spec.affinity,
    strategy: spec.strategy,
    avoidAgents,
  };
}

/** Validates a submission; every problem is named with its path and value. */
export function parseTaskSpec(input: unknown): TaskSpec {
  const parsed = taskSpecSchema.safeParse(input);
  if (parsed.success) return parsed.data;
  const problems = parsed.error.issues.map((issue) => {
    const path = issue.path.length === 0 ? 'task' : issue.path.join('.');
    let value: unknown = input;
    for (const key of issue.path) value = value !== null && typeof value === 'object' ? (value as Record<PropertyKey, unknown>)[key] : undefined;
    const shown = value === undefined ? '' : ` (got ${JSON.stringify(value)?.slice(0, 80)})`;
    return `${path}: ${issue.message}${shown}`;
  });
  throw new InputError(`invalid task: ${problems.join('; ')}`, { problems });
}

export const taskStates = ['queued', 'waiting', 'placed', 'running', 'retrying', 'succeeded', 'failed', 'cancelled'] as const;
export type TaskState = (typeof taskStates)[number];
export const finalTaskStates: readonly TaskState[] = ['succeeded', 'failed', 'cancelled'];

/** One attempt of a task on one agent. */
export interface TaskAttempt {
  attempt: number;
  agentId: string;
  /** Id of the job on `agent.<id>` (and of the run the agent reports). */
  runId: string;
  placedAtMillis: number;
  startedAtMillis: number | null;
  finishedAtMillis: number | null;
  outcome: 'succeeded' | 'failed' | 'timed-out' | 'agent-down' | 'cancelled' | null;
  message: string | null;
  /** Times the run started again after its first start (redelivered when its agent or Redis restarted mid-run). */
  redeliveries?: number;
}

/** A task and its history, as the API returns it. */
export interface TaskRecord {
  id: string;
  spec: TaskSpec;
  state: TaskState;
  submittedBy: string;
  createdAtMillis: number;
  updatedAtMillis: number;
  /** The latest placement decision (also when nothing fitted). */
  decision: PlacementDecision | null;
  /** Why the task is in its state, in words. */
  reason: string | null;
  attempts: TaskAttempt[];
  /** Agents earlier attempts ran on: retries prefer others. */
  avoidAgents: string[];
}
