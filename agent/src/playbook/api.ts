import { randomUUID } from 'node:crypto';
import { basename } from 'node:path';
import { SlothError, type SlothErrorCode } from '@sloth/core/errors';
import { jsonSecrets } from '@sloth/core/redact-text';
import type { RunSession } from './host-calls.js';
import { ScratchDir } from './exec-policy.js';
import { RunRecords } from './run-records.js';
import { findForbiddenGlobals, lineOf } from './lint-scan.js';
import { validateMetadata, validateParams } from './metadata.js';
import { PlaybookRuntime, defaultPlaybookLimits } from './runtime.js';
import { maxLogRecordsPerRun, nowMillis, type SandboxOutcome } from './sandbox-job.js';
import { eventForLua, parsePlaybookEvent } from './triggers.js';
import type { LintReport, Playbook, PlaybookHost, PlaybookLimits, PlaybookResult, PlaybookRunContext } from './types.js';

/** Limits for evaluating a playbook file's top level (metadata only). */
const loadLimits: PlaybookLimits = { timeoutMillis: 5_000, maxInstructions: 20_000_000, maxMemoryBytes: 32 * 1024 * 1024, hardKillGraceMillis: 1_000 };

let sharedRuntime: PlaybookRuntime | undefined;

/** The process-wide runtime behind {@link runPlaybook} (created, and its workers started, on first use). */
export function playbookRuntime(): PlaybookRuntime {
  sharedRuntime ??= new PlaybookRuntime();
  return sharedRuntime;
}

/** Stops the process-wide runtime's worker threads (idle workers never keep a process alive anyway). */
export async function shutdownPlaybookRuntime(): Promise<void> {
  const runtime = sharedRuntime;
  sharedRuntime = undefined;
  await runtime?.shutdown();
}

function chunkName(fileName: string): string {
  return basename(fileName) || 'playbook.lua';
}

async function describe(source: string, fileName: string, runtime: PlaybookRuntime): Promise<SandboxOutcome> {
  return runtime.execute({ kind: 'describe', source, fileName: chunkName(fileName), limits: loadLimits });
}

/**
 * Parses a playbook and validates its metadata; throws
 * `SlothError('SLOTH_ERR_PLAYBOOK')` naming every problem.
 */
export async function loadPlaybook(source: string, fileName: string, runtime: PlaybookRuntime = playbookRuntime()): Promise<Playbook> {
  const outcome = await describe(source, fileName, runtime);
  if (outcome.status !== 'ok') {
    throw new SlothError('SLOTH_ERR_PLAYBOOK', `${fileName}: ${outcome.message}`, { details: { fileName, status: outcome.status } });
  }
  const { metadata, problems } = validateMetadata(outcome.table);
  const errors = problems.filter((p) => p.severity === 'error');
  if (metadata === undefined || errors.length > 0) {
    throw new SlothError(
      'SLOTH_ERR_PLAYBOOK',
      `${fileName}: invalid playbook metadata (${errors.length} problem${errors.length === 1 ? '' : 's'}):\n${errors.map((p) => `  - ${p.message}`).join('\n')}`,
      { details: { fileName, problems: errors.map((p) => p.message) } },
    );
  }
  return Object.freeze({ fileName, source, metadata });
}

/** Every problem in a playbook file: syntax, forbidden globals, metadata schema (with line numbers where known). */
export async function lintPlaybook(source: string, fileName: string, runtime: PlaybookRuntime = playbookRuntime()): Promise<LintReport> {
  const name = chunkName(fileName);
  const problems = findForbiddenGlobals(source);
  const outcome = await describe(source, fileName, runtime);
  let metadata: LintReport['metadata'];
  if (outcome.status === 'ok') {
    const checked = validateMetadata(outcome.table);
    metadata = checked.metadata;
    problems.push(...checked.problems.map((p) => ({ severity: p.severity, message: p.message })));
  } else if (outcome.status !== 'forbidden' || problems.length === 0) {
    const line = lineOf(outcome.message, name);
    const kind = outcome.status === 'syntax' ? 'syntax error' : outcome.status === 'limit' ? 'top level exceeded a limit' : 'top level failed';
    problems.push({ severity: 'error', message: `${kind}: ${outcome.message}`, ...(line === undefined ? {} : { line }) });
  }
  problems.sort((a, b) => (a.line ?? 0) - (b.line ?? 0));
  const report: LintReport = { fileName, ok: !problems.some((p) => p.severity === 'error'), problems };
  if (metadata !== undefined) report.metadata = metadata;
  return report;
}

export interface RunPlaybookOptions {
  params?: Record<string, unknown>;
  /** The triggering event: an anomaly event, a Sloth event, or a tagged PlaybookEvent. */
  event?: unknown;
  dryRun?: boolean;
  host: PlaybookHost;
  limits?: Partial<PlaybookLimits>;
  runId?: string;
  /** @defaultValue the process-wide runtime */
  runtime?: PlaybookRuntime;
}

/** The limits a run gets: defaults, then the playbook's `timeout`, then the caller's overrides. */
export function resolveLimits(playbook: Playbook, overrides: Partial<PlaybookLimits> = {}): PlaybookLimits {
  const limits: PlaybookLimits = { ...defaultPlaybookLimits };
  if (playbook.metadata.timeoutMillis !== undefined) limits.timeoutMillis = playbook.metadata.timeoutMillis;
  for (const [key, value] of Object.entries(overrides) as Array<[keyof PlaybookLimits, number | undefined]>) {
    if (value === undefined) continue;
    if (!Number.isFinite(value) || value <= 0) throw new SlothError('SLOTH_ERR_CONFIG', `playbook limit ${key} must be a positive number, got ${String(value)}`);
    limits[key] = value;
  }
  return limits;
}

function ctxEvent(event: unknown): Record<string, unknown> | undefined {
  if (event === undefined || event === null) return undefined;
  try {
    return eventForLua(parsePlaybookEvent(event));
  } catch {
    return typeof event === 'object' ? (event as Record<string, unknown>) : { value: event };
  }
}

const codeOf: Record<SandboxOutcome['status'], SlothErrorCode | undefined> = {
  ok: undefined,
  failed: undefined,
  syntax: 'SLOTH_ERR_PLAYBOOK',
  runtime: 'SLOTH_ERR_PLAYBOOK',
  limit: 'SLOTH_ERR_PLAYBOOK_LIMIT',
  forbidden: 'SLOTH_ERR_PLAYBOOK_FORBIDDEN',
  internal: 'SLOTH_ERR_INTERNAL',
};

/**
 * Runs a loaded playbook in a fresh sandbox. Never throws for what the
 * playbook does: bad params, Lua errors and exceeded limits come back as
 * `ok: false` with an `error` naming the problem.
 */
export async function runPlaybook(playbook: Playbook, options: RunPlaybookOptions): Promise<PlaybookResult> {
  const startMillis = nowMillis();
  const limits = resolveLimits(playbook, options.limits);
  const elapsed = (): number => Math.round((nowMillis() - startMillis) * 1000) / 1000;
  const { params, problems } = validateParams(playbook.metadata, options.params ?? {});
  if (problems.length > 0) {
    const message = `invalid params for playbook '${playbook.metadata.name}': ${problems.join('; ')}`;
    return { ok: false, message, durationMillis: elapsed(), startupMillis: 0, logs: [], actions: [], error: { code: 'SLOTH_ERR_INPUT', message } };
  }
  const dryRun = options.dryRun === true;
  const run: PlaybookRunContext = { runId: options.runId ?? randomUUID(), playbook: playbook.metadata.name, version: playbook.metadata.version, dryRun, secrets: jsonSecrets(params) };
  const session: RunSession = { host: options.host, run, records: new RunRecords(), metricNames: new Set(), metricSeries: new Set(), abort: new AbortController(), scratch: new ScratchDir(run.runId) };
  const ctx = {
    params,
    event: ctxEvent(options.event),
    dry_run: dryRun,
    run_id: run.runId,
    // Lua's os.time is not in the sandbox: the start time is the playbook's clock.
    started_at_millis: Date.now(),
    playbook: { name: playbook.metadata.name, version: playbook.metadata.version },
  };
  const runtime = options.runtime ?? playbookRuntime();
  const outcome = await runtime.execute({ kind: 'run', source: playbook.source, fileName: chunkName(playbook.fileName), limits, ctx }, session).finally(() => session.scratch.remove().catch(() => undefined));
  const warning = session.records.addDropWarning(outcome.droppedLogs, maxLogRecordsPerRun, Date.now());
  if (warning !== undefined) {
    try {
      options.host.log(warning, run);
    } catch {
      // A failing log sink must not fail the playbook.
    }
  }
  const result: PlaybookResult = {
    ok: outcome.status === 'ok',
    message: outcome.message,
    durationMillis: elapsed(),
    startupMillis: Math.max(0, Math.round((outcome.chunkStartMillis - startMillis) * 1000) / 1000),
    logs: session.records.logs,
    actions: session.records.actions,
  };
  const code = codeOf[outcome.status];
  if (code !== undefined) {
    result.error = { code, message: outcome.message };
    if (outcome.limit !== undefined) result.error.limit = outcome.limit;
  }
  return result;
}
