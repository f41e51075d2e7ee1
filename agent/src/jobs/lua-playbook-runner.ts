import { createHash } from 'node:crypto';
import type { RemediationJob } from '@sloth/core';
import { loadPlaybook, runPlaybook } from '../playbook/api.js';
import type { PlaybookRuntime } from '../playbook/runtime.js';
import type { Playbook, PlaybookHost, PlaybookLimits } from '../playbook/types.js';
import type { PlaybookRunner, RunOutcome } from './playbook-runner.js';

export interface LuaPlaybookRunnerOptions {
  host: PlaybookHost;
  /** Overrides of the sandbox limits (the playbook's own `timeout` applies otherwise). */
  limits?: Partial<PlaybookLimits> | undefined;
  /** Loaded playbooks kept, by source hash. @defaultValue 256 */
  cacheSize?: number;
  /** The Lua runtime (worker-thread pool) to run on. @defaultValue the process-wide runtime */
  runtime?: PlaybookRuntime | undefined;
}

/**
 * Runs remediation jobs with the Lua runtime. The job carries the playbook
 * source; loaded playbooks are cached by the hash of their source, so a job
 * costs one sandbox run, not a load and a run.
 */
export class LuaPlaybookRunner implements PlaybookRunner {
  private readonly options: LuaPlaybookRunnerOptions;
  private readonly cache = new Map<string, Promise<Playbook>>();

  constructor(options: LuaPlaybookRunnerOptions) {
    this.options = options;
  }

  async run(job: RemediationJob, runId: string): Promise<RunOutcome> {
    let playbook: Playbook;
    try {
      playbook = await this.load(job);
    } catch (error) {
      const message = (error as Error).message;
      return { ok: false, message: `cannot load playbook: ${message}`, durationMillis: 0, logs: [], actions: [], error: { code: 'SLOTH_ERR_PLAYBOOK', message } };
    }
    const result = await runPlaybook(playbook, {
      params: job.params,
      event: job.event,
      dryRun: job.dryRun,
      host: this.options.host,
      runId,
      ...(this.options.limits === undefined ? {} : { limits: this.options.limits }),
      ...(this.options.runtime === undefined ? {} : { runtime: this.options.runtime }),
    });
    return { ok: result.ok, message: result.message, durationMillis: result.durationMillis, logs: result.logs, actions: result.actions, error: result.error };
  }

  private load(job: RemediationJob): Promise<Playbook> {
    const key = createHash('sha256').update(job.playbook.fileName).update('\0').update(job.playbook.source).digest('hex');
    let loading = this.cache.get(key);
    if (loading === undefined) {
      loading = loadPlaybook(job.playbook.source, job.playbook.fileName, this.options.runtime);
      loading.catch(() => this.cache.delete(key));
      this.cache.set(key, loading);
      if (this.cache.size > (this.options.cacheSize ?? 256)) {
        const oldest = this.cache.keys().next().value;
        if (oldest !== undefined) this.cache.delete(oldest);
      }
    }
    return loading;
  }
}
