import type { AnomalyEvent, SlothErrorCode, SlothEvent } from '@sloth/core';

/** The type of a declared playbook parameter. `table` accepts any JSON object or array. */
export type PlaybookParamType = 'string' | 'number' | 'integer' | 'boolean' | 'table';

/** One entry of a playbook's `params` schema. */
export interface PlaybookParamSpec {
  type: PlaybookParamType;
  required: boolean;
  default?: unknown;
  description?: string;
}

/** An anomaly trigger: which incidents of `sloth:anomalies` run the playbook. */
export interface AnomalyTrigger {
  /** Metric name pattern (`*`: any characters). */
  metric: string;
  /** Smallest score (the incident's peak so far) that matches. @defaultValue 0 */
  min_score?: number;
  /**
   * Most false incidents per series-day (at 1 s sampling) the trigger may match, resolved when the
   * playbook loads to the lowest score of the live calibration (calibration.ts) whose measured rate is
   * at most this; with `min_score` too, the higher score wins.
   */
  max_false_per_day?: number;
  agent?: string;
  direction?: 'above' | 'below' | 'any';
  /** Seconds the incident must have lasted. @defaultValue 0 */
  min_duration?: number;
}

/** A trigger declared in a playbook's `triggers` list (exactly one of the keys). */
export type PlaybookTrigger =
  | { anomaly: AnomalyTrigger }
  | { event: { type: string } & Record<string, unknown> }
  | { alert: { name: string; level?: string } };

/** The validated metadata of a playbook (the table its file returns, minus `run`). */
export interface PlaybookMetadata {
  name: string;
  description: string;
  version: string;
  triggers: PlaybookTrigger[];
  params: Record<string, PlaybookParamSpec>;
  requiresApproval: boolean;
  /** From the playbook's `timeout` (seconds), if it declares one. */
  timeoutMillis?: number;
}

/** A loaded, validated playbook: its source plus its metadata. Plain data: it can cross threads and queues. */
export interface Playbook {
  readonly fileName: string;
  readonly source: string;
  readonly metadata: PlaybookMetadata;
}

/** Per-run sandbox limits. */
export interface PlaybookLimits {
  /** Wall-clock limit of one run, host calls included. @defaultValue the playbook's `timeout`, else 30 000 */
  timeoutMillis: number;
  /** Lua VM instructions one run may execute. @defaultValue 200 000 000 */
  maxInstructions: number;
  /** Bytes the Lua state may allocate. @defaultValue 64 MiB */
  maxMemoryBytes: number;
  /** After the timeout, how long a run blocked outside Lua (a C function, a host call) gets before its worker thread is terminated. @defaultValue 1 000 */
  hardKillGraceMillis: number;
}

export type PlaybookLogLevel = 'info' | 'warn' | 'error';

export interface PlaybookLogRecord {
  level: PlaybookLogLevel;
  message: string;
  attrs: Record<string, unknown>;
  timestampMillis: number;
}

/** A side effect a run performed, or (in dry-run) would have performed. Never holds secrets (URLs are reduced to their origin). */
export interface PlaybookAction {
  kind: 'exec' | 'http.post' | 'http.get' | 'state.set' | 'state.incr' | 'state.cas' | 'fs.remove' | 'fs.rename' | 'fs.touch' | 'metric' | 'alert';
  dryRun: boolean;
  detail: Record<string, unknown>;
}

export type PlaybookLimitName = 'timeout' | 'instructions' | 'memory';

export interface PlaybookResult {
  ok: boolean;
  message: string;
  durationMillis: number;
  /** From the call to the first Lua instruction of the playbook chunk. */
  startupMillis: number;
  logs: PlaybookLogRecord[];
  actions: PlaybookAction[];
  error?: { code: SlothErrorCode; message: string; limit?: PlaybookLimitName };
}

/** What identifies a run to the host (for trace context, audit). */
export interface PlaybookRunContext {
  runId: string;
  playbook: string;
  version: string;
  dryRun: boolean;
  /** The run's params' own secret values (core's `jsonSecrets`): a host masks them wherever what it exports quotes them. */
  secrets: readonly string[];
}

/** Allow-list for `exec`. Commands are matched on argv[0], resolved on `searchPath`, never run through a shell. */
export interface ExecPolicy {
  /** Command names (`systemctl`) or absolute paths (`/usr/bin/systemctl`) a playbook may run. */
  allow: readonly string[];
  /** Commands that only read (e.g. `ps`, `du`): they also run in dry-run mode. @defaultValue [] */
  readOnly?: readonly string[];
  /** PATH used to resolve bare command names (the playbook cannot change it). @defaultValue the host's PATH */
  searchPath?: string;
  /** Cap on captured stdout and stderr, each. @defaultValue 1 MiB */
  maxOutputBytes?: number;
  /**
   * Environment keys a playbook may set beyond the built-in allow-list
   * (locale, TZ, terminal size), per command as named on `allow`; `'*'`
   * applies to every command. Loader and start-up keys (LD_*, BASH_ENV, …)
   * are refused even when named here. @defaultValue {}
   */
  allowEnv?: Readonly<Record<string, readonly string[]>>;
}

/** Allow-list for `http.get/post`: host names (`hooks.example.com`) or `host:port`. */
export interface HttpPolicy {
  allowHosts: readonly string[];
  /** Cap on a response body. @defaultValue 1 MiB */
  maxResponseBytes?: number;
}

/** Directories the `fs` module may touch (it never follows symbolic links out of them). */
export interface FsPolicy {
  allowRoots: readonly string[];
}

/** Per-agent persistent key-value store behind `state.get/set/incr/cas`. Values are JSON. */
export interface PlaybookStateStore {
  get(key: string): Promise<unknown>;
  set(key: string, value: unknown): Promise<void>;
  /** Adds `by` to a numeric value (missing = 0) and returns the new value. */
  incr(key: string, by: number): Promise<number>;
  /** Sets `next` only if the current value deep-equals `expected` (undefined = missing); returns whether it did. */
  cas(key: string, expected: unknown, next: unknown): Promise<boolean>;
}

export type PlaybookMetricAttributes = Record<string, string | number | boolean>;

/**
 * Everything a playbook can touch. The agent, the CLI and tests each provide
 * a real implementation; the runtime enforces the policies and dry-run.
 */
export interface PlaybookHost {
  /** `log.info/warn/error`: the agent turns these into OTel log records with the run's trace context. */
  log(record: PlaybookLogRecord, run: PlaybookRunContext): void;
  /** `metrics.gauge/counter/histogram`. */
  metric(kind: 'gauge' | 'counter' | 'histogram', name: string, value: number, attrs: PlaybookMetricAttributes, run: PlaybookRunContext): void;
  /** `metrics.get(name, attrs)`: the latest value the agent knows, or undefined. */
  latestMetric(name: string, attrs: PlaybookMetricAttributes): Promise<number | undefined>;
  /** `metrics.system_cpu()`: host CPU utilisation in percent (0–100). */
  systemCpu(): Promise<number>;
  /** `metrics.system_memory()`: host memory in use, in percent (0–100). */
  systemMemory(): Promise<number>;
  /** `metrics.alert(name, {level, message})`: the agent raises an `alert` event on `sloth:events`. */
  alert(name: string, alert: { level: string; message: string; attrs: Record<string, unknown> }, run: PlaybookRunContext): Promise<void>;
  exec: ExecPolicy;
  http: HttpPolicy;
  fs?: FsPolicy;
  state: PlaybookStateStore;
}

/** An event a playbook can be triggered by (and receives as `ctx.event`). */
export type PlaybookEvent = { source: 'anomaly'; anomaly: AnomalyEvent } | { source: 'event'; event: SlothEvent };

export interface TriggerMatch {
  /** Index in the playbook's `triggers` list. */
  index: number;
  trigger: PlaybookTrigger;
  /** Why it matched, for humans. */
  reason: string;
}

export interface LintProblem {
  severity: 'error' | 'warning';
  message: string;
  line?: number;
}

export interface LintReport {
  fileName: string;
  ok: boolean;
  problems: LintProblem[];
  metadata?: PlaybookMetadata;
}

/** @deprecated alias of {@link PlaybookMetricAttributes} (inside the agent package). */
export type MetricAttributes = PlaybookMetricAttributes;
