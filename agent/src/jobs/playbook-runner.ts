import type { RemediationJob } from '@sloth/core';

/** What one playbook run produced, as the worker reports it. */
export interface RunOutcome {
  ok: boolean;
  message: string;
  durationMillis: number;
  logs: unknown[];
  /** Side effects performed (or, in dry-run, planned). */
  actions?: unknown[] | undefined;
  error?: { code: string; message: string } | undefined;
}

/**
 * Runs the playbook of a remediation job. The worker does not know Lua: it
 * hands the job to a runner (the Lua runtime in production, see
 * {@link luaPlaybookRunner}).
 */
export interface PlaybookRunner {
  run(job: RemediationJob, runId: string): Promise<RunOutcome>;
}
