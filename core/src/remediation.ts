import { z } from 'zod';
import type { RedisKeys } from './redis-keys.js';

/**
 * Payloads of the remediation loop, shared by the scheduler (which enqueues
 * jobs on `agent.<id>` and keeps the audit log) and the agent (which runs
 * them and reports back on the results stream).
 */

/** Job name of a remediation job on an agent queue. */
export const remediationJobName = 'remediation';

/** The data of a `remediation` job on `agent.<id>`. */
export const remediationJobSchema = z.object({
  /** Audit record id; also the idempotency key of the run. */
  remediationId: z.string().min(1),
  agentId: z.string().min(1),
  playbook: z.object({
    name: z.string().min(1),
    version: z.string(),
    /** File name the source came from, for error messages. */
    fileName: z.string(),
    /** The Lua source, so the agent runs exactly the version that was matched and approved. */
    source: z.string(),
  }),
  params: z.record(z.string(), z.unknown()).default({}),
  /** The triggering anomaly or event. */
  event: z.unknown(),
  dryRun: z.boolean().default(false),
  /** When the trigger entered Sloth (stream entry time), Unix milliseconds. */
  triggeredAtMillis: z.number(),
  enqueuedAtMillis: z.number(),
  /**
   * HMAC-SHA256 of the job under the scheduler's job-signing key (see job-signing.ts); an agent holding a
   * key runs only jobs whose signature matches. Absent on a job from a scheduler without a key.
   */
  signature: z
    .object({
      /** Layout of the signed payload. */
      version: z.number().int(),
      /** Which key signed it (a digest of the key, not the key). */
      keyId: z.string(),
      /** When it was signed, Unix milliseconds by the scheduler's clock (signature version 2 on). */
      issuedAtMillis: z.number().optional(),
      /** The last moment the job may start (signature version 2 on); an agent refuses it later. */
      expiresAtMillis: z.number().optional(),
      /** The HMAC, hex. */
      hmac: z.string(),
    })
    .optional(),
});
export type RemediationJob = z.infer<typeof remediationJobSchema>;

/** Progress and results the agent publishes on the results stream. */
export const remediationReportSchema = z.object({
  remediationId: z.string().min(1),
  agentId: z.string(),
  state: z.enum(['running', 'succeeded', 'failed']),
  /** BullMQ attempt (1 on the first run, more after a stalled rerun). */
  attempt: z.number().int().min(1),
  atMillis: z.number(),
  ok: z.boolean().optional(),
  message: z.string().optional(),
  error: z.string().optional(),
  durationMillis: z.number().optional(),
  logs: z.array(z.unknown()).optional(),
  /** Side effects the run performed (or, in dry-run, would have). */
  actions: z.array(z.unknown()).optional(),
});
export type RemediationReport = z.infer<typeof remediationReportSchema>;

/** The stream the agents write remediation progress and results to. */
export function remediationResultsStream(keys: RedisKeys): string {
  return keys.key('remediation', 'results');
}

/** Key holding the final result of a remediation once an agent recorded it (re-runs skip work). */
export function remediationDoneKey(keys: RedisKeys, remediationId: string): string {
  return keys.key('remediation', 'done', remediationId);
}

/**
 * Key an agent holding a job-signing key sets (NX) as it takes a signed job: the BullMQ job id that
 * claimed the remediation id, kept until the job's signature expires. Another job with the same
 * remediation id (a captured job re-added) is refused while it exists.
 */
export function remediationClaimKey(keys: RedisKeys, remediationId: string): string {
  return keys.key('remediation', 'claim', remediationId);
}

/** Life cycle of one remediation (one trigger × playbook × target). */
export const remediationStates = [
  'pending_approval',
  /** Admitted, held until a concurrency slot frees up. */
  'waiting',
  'queued',
  'running',
  'succeeded',
  'failed',
  'rejected',
  'expired',
  'skipped_cooldown',
] as const;
