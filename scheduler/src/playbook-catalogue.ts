import type { TriggerEvent } from './trigger.js';

/**
 * What the scheduler needs to know about a playbook. The scheduler does not
 * run Lua itself: whoever starts it (the CLI) supplies a {@link PlaybookLoader}
 * built on the playbook runtime, so the scheduler stays free of wasmoon and of
 * the agent package.
 */
export interface SchedulablePlaybook {
  readonly name: string;
  readonly version: string;
  /** File the playbook came from. */
  readonly fileName: string;
  /** Lua source, shipped in the job so the agent runs exactly what was matched and approved. */
  readonly source: string;
  readonly requiresApproval: boolean;
  /** Playbook-level dry run (metadata `dry_run = true`). */
  readonly dryRun?: boolean;
  /** Playbook-level cooldown overriding the scheduler's, in seconds. */
  readonly cooldownSeconds?: number;
  /** Declared parameter names: event attributes with these names become parameters. */
  readonly paramNames?: readonly string[];
  /**
   * Required parameters without a default: unless `playbookParams.<name>` of the scheduler gives
   * them, the playbook is not loaded (a triggered run would only fail on its configuration).
   */
  readonly requiredParams?: readonly string[];
  /**
   * Problems of run parameters against the playbook's declared ones (unknown names, wrong types,
   * missing required ones), each naming its parameter; empty when they are fine. A task submission is
   * refused with them instead of failing later on its agent.
   */
  checkParams?(params: Readonly<Record<string, unknown>>): readonly string[];
  /** Whether one of the playbook's triggers matches. */
  matches(event: TriggerEvent): boolean;
}

/** Loads every playbook of a directory; throws a SlothError naming the file that failed. */
export type PlaybookLoader = (directory: string) => Promise<SchedulablePlaybook[]>;
