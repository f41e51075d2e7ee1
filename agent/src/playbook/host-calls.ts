import { isDeepStrictEqual } from 'node:util';
import { processEnv } from '@sloth/core/config';
import { resolveAllowedCommand, runCommand } from './exec.js';
import { checkPlaybookEnv, confineCwd, envForAudit, type ScratchDir } from './exec-policy.js';
import { confinePath as confine, fsList, fsRemove, fsRename, fsStat, fsTouch } from './fs-module.js';
import { checkUrl, httpRequest, redactUrl } from './http.js';
import type { RunRecords } from './run-records.js';
import type { HostReply } from './sandbox.js';
import type { PlaybookMetricAttributes, PlaybookAction, PlaybookHost, PlaybookLogLevel, PlaybookRunContext } from './types.js';

const defaultExecTimeoutMillis = 10_000;
/**
 * Distinct metric names and series (name + attribute set) one run may write. The agent's
 * budgets of names and series are per process: without a per-run share one run could use
 * them all up and break the metrics of every later playbook.
 */
export const maxMetricNamesPerRun = 100;
export const maxMetricSeriesPerRun = 500;
const defaultHttpTimeoutMillis = 10_000;

/** Everything one run's host calls share: the host, dry-run, and what the run did. */
export interface RunSession {
  host: PlaybookHost;
  run: PlaybookRunContext;
  /** The run's log and action records, bounded in size and number. */
  records: RunRecords;
  /** Metric names and series (`name` + attribute set) the run has written, for the per-run budgets. */
  metricNames: Set<string>;
  metricSeries: Set<string>;
  /** Aborted when the run ends or is stopped: kills its commands, cancels its requests. */
  abort: AbortController;
  /** Working directory of commands that name no `cwd`; the run's owner removes it when the run ends. */
  scratch: ScratchDir;
}

class CallError extends Error {}

/** A refusal by policy (allow-list, allowed roots): the run fails with SLOTH_ERR_PLAYBOOK_FORBIDDEN unless the playbook handles it. */
class PolicyError extends Error {}

function fail(message: string): never {
  throw new CallError(message);
}

function refuse(message: string): never {
  throw new PolicyError(message);
}

function asString(value: unknown, what: string): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'number') return String(value);
  return fail(`${what} must be a string, got ${value === undefined ? 'nil' : typeof value}`);
}

function asKey(value: unknown, what: string): string {
  if (typeof value !== 'string' || value === '') fail(`${what}: the key must be a non-empty string`);
  return value;
}

function asObject(value: unknown, what: string): Record<string, unknown> {
  if (value === undefined) return {};
  if (typeof value !== 'object' || value === null || Array.isArray(value)) fail(`${what} must be a table of options`);
  return value as Record<string, unknown>;
}

function asAttrs(value: unknown, what: string): PlaybookMetricAttributes {
  const attrs: PlaybookMetricAttributes = {};
  for (const [key, v] of Object.entries(asObject(value, what))) {
    if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') attrs[key] = v;
    else fail(`${what}: attribute '${key}' must be a string, number or boolean`);
  }
  return attrs;
}

function timeoutOption(options: Record<string, unknown>, defaultMillis: number, what: string): number {
  const seconds = options.timeout;
  if (seconds === undefined) return defaultMillis;
  if (typeof seconds !== 'number' || !Number.isFinite(seconds) || seconds <= 0) fail(`${what}: timeout must be a positive number of seconds`);
  return seconds * 1000;
}

function seriesKey(name: string, attrs: PlaybookMetricAttributes): string {
  return JSON.stringify([name, Object.keys(attrs).sort().map((k) => [k, attrs[k]])]);
}

/** Refuses a metric name or series past the run's share ({@link maxMetricNamesPerRun}, {@link maxMetricSeriesPerRun}). */
function checkMetricBudget(session: RunSession, name: string, attrs: PlaybookMetricAttributes, kind: string): void {
  if (!session.metricNames.has(name) && session.metricNames.size >= maxMetricNamesPerRun) {
    fail(`metrics.${kind}('${name.length > 64 ? `${name.slice(0, 64)}…` : name}'): a run may write at most ${maxMetricNamesPerRun} distinct metric names`);
  }
  // Series are counted once the host took them (its checks bound their size); dry-run creates none.
  if (!session.run.dryRun && session.metricSeries.size >= maxMetricSeriesPerRun && !session.metricSeries.has(seriesKey(name, attrs))) {
    fail(`metrics.${kind}('${name}'): a run may write at most ${maxMetricSeriesPerRun} distinct series (name and attribute set)`);
  }
}

/** Handles a fire-and-forget message from the sandbox (`log`). */
export function handleNotify(session: RunSession, method: string, args: unknown[], timestampMillis: number): void {
  if (method !== 'log') return;
  const [level, message, attrs] = args;
  const record = session.records.addLog(
    (['info', 'warn', 'error'].includes(level as string) ? level : 'info') as PlaybookLogLevel,
    typeof message === 'string' ? message : typeof message === 'number' || typeof message === 'boolean' ? String(message) : 'null',
    attrs,
    timestampMillis,
  );
  // Over the run's budget: dropped from the log sink too (the final warning counts it).
  if (record === undefined) return;
  try {
    session.host.log(record, session.run);
  } catch {
    // A failing log sink must not fail the playbook.
  }
}

/** Handles a synchronous call from the sandbox. Never throws: errors become replies the Lua side raises. */
export async function handleCall(session: RunSession, method: string, args: unknown[]): Promise<HostReply> {
  try {
    return { ok: true, value: await dispatch(session, method, args) };
  } catch (error) {
    const reply: HostReply = { ok: false, err: error instanceof Error ? error.message : String(error) };
    if (error instanceof PolicyError) reply.forbidden = true;
    return reply;
  }
}

async function dispatch(session: RunSession, method: string, args: unknown[]): Promise<unknown> {
  const { host, run } = session;
  const dryRun = run.dryRun;
  const record = (kind: PlaybookAction['kind'], detail: Record<string, unknown>): void => {
    session.records.addAction(kind, dryRun, detail);
  };
  switch (method) {
    case 'metric': {
      const [kind, name, value, attrs] = args;
      const metricName = asString(name, `metrics.${String(kind)}: name`);
      if (metricName === '') fail(`metrics.${String(kind)}: name must not be empty`);
      if (metricName.length > 255) fail(`metrics.${String(kind)}: name is ${metricName.length} characters long (limit 255)`);
      if (typeof value !== 'number' || !Number.isFinite(value)) fail(`metrics.${String(kind)}('${metricName}'): value must be a finite number`);
      const attributes = asAttrs(attrs, `metrics.${String(kind)}('${metricName}')`);
      checkMetricBudget(session, metricName, attributes, String(kind));
      record('metric', { kind, name: metricName, value, attrs: attributes });
      if (!dryRun) host.metric(kind as 'gauge' | 'counter' | 'histogram', metricName, value, attributes, run);
      session.metricNames.add(metricName);
      if (!dryRun) session.metricSeries.add(seriesKey(metricName, attributes));
      return undefined;
    }
    case 'metrics.get': {
      const [name, attrs] = args;
      return host.latestMetric(asString(name, 'metrics.get: name'), asAttrs(attrs, 'metrics.get'));
    }
    case 'metrics.system_cpu':
      return host.systemCpu();
    case 'metrics.system_memory':
      return host.systemMemory();
    case 'alert': {
      const [name, opts] = args;
      const alertName = asString(name, 'metrics.alert: name');
      const { level, message, ...rest } = asObject(opts, 'metrics.alert');
      const alert = { level: level === undefined ? 'warning' : asString(level, 'metrics.alert: level'), message: message === undefined ? '' : asString(message, 'metrics.alert: message'), attrs: rest };
      record('alert', { name: alertName, level: alert.level, message: alert.message });
      if (!dryRun) await host.alert(alertName, alert, run);
      return undefined;
    }
    case 'exec':
      return execCall(session, args, record);
    case 'http':
      return httpCall(session, args, record);
    case 'state.get':
      return host.state.get(asKey(args[0], 'state.get'));
    case 'state.set': {
      const key = asKey(args[0], 'state.set');
      record('state.set', { key });
      if (!dryRun) await host.state.set(key, args[1]);
      return undefined;
    }
    case 'state.incr': {
      const key = asKey(args[0], 'state.incr');
      const by = args[1] ?? 1;
      if (typeof by !== 'number' || !Number.isFinite(by)) fail('state.incr: the increment must be a number');
      record('state.incr', { key, by });
      if (!dryRun) return host.state.incr(key, by);
      const current = await host.state.get(key);
      return (typeof current === 'number' ? current : 0) + by;
    }
    case 'state.cas': {
      const key = asKey(args[0], 'state.cas');
      record('state.cas', { key });
      if (!dryRun) return host.state.cas(key, args[1], args[2]);
      return isDeepStrictEqual(await host.state.get(key), args[1]);
    }
    case 'fs.list':
      return fsList(await confinePath(args[0], host.fs, 'fs.list'));
    case 'fs.stat':
      return fsStat(await confinePath(args[0], host.fs, 'fs.stat'));
    case 'fs.remove': {
      const path = await confinePath(args[0], host.fs, 'fs.remove');
      record('fs.remove', { path });
      return dryRun ? (await fsStat(path)) !== undefined : fsRemove(path);
    }
    case 'fs.rename': {
      const from = await confinePath(args[0], host.fs, 'fs.rename');
      const to = await confinePath(args[1], host.fs, 'fs.rename');
      record('fs.rename', { from, to });
      if (!dryRun) await fsRename(from, to);
      return undefined;
    }
    case 'fs.touch': {
      const path = await confinePath(args[0], host.fs, 'fs.touch');
      record('fs.touch', { path });
      if (!dryRun) await fsTouch(path);
      return undefined;
    }
    default:
      return fail(`unknown host function '${method}'`);
  }
}

async function confinePath(raw: unknown, policy: PlaybookHost['fs'], what: string): Promise<string> {
  try {
    return await confine(raw, policy, what);
  } catch (error) {
    const message = (error as Error).message;
    if (message.includes('outside the allowed roots') || message.includes('not enabled')) refuse(message);
    throw error;
  }
}

async function execCall(session: RunSession, args: unknown[], record: (kind: PlaybookAction['kind'], detail: Record<string, unknown>) => void): Promise<unknown> {
  const [argv, opts] = args;
  if (!Array.isArray(argv) || argv.length === 0) fail('exec: the first argument must be a non-empty argv table, e.g. {"systemctl", "restart", "nginx"}');
  const words = argv.map((word, i) => (typeof word === 'string' ? word : typeof word === 'number' ? String(word) : fail(`exec: argv[${i + 1}] must be a string`)));
  const options = asObject(opts, 'exec');
  const policy = session.host.exec;
  const hostPath = processEnv().PATH ?? '/usr/local/bin:/usr/bin:/bin';
  const resolved = resolveAllowedCommand(words[0] ?? '', policy, hostPath);
  if ('error' in resolved) refuse(resolved.error);
  const baseEnv: Record<string, string> = { PATH: policy.searchPath ?? hostPath, LANG: 'C.UTF-8' };
  const requested: Record<string, string> = {};
  for (const [key, value] of Object.entries(asObject(options.env, 'exec: env'))) requested[key] = asString(value, `exec: env.${key}`);
  const checkedEnv = checkPlaybookEnv(words[0] ?? '', requested, policy);
  if ('error' in checkedEnv) refuse(checkedEnv.error);
  let cwd: string;
  if (options.cwd === undefined) cwd = await session.scratch.get();
  else {
    const confined = await confineCwd(asString(options.cwd, 'exec: cwd'), session.host.fs);
    if ('error' in confined) refuse(confined.error);
    cwd = confined.cwd;
  }
  const timeoutMillis = timeoutOption(options, defaultExecTimeoutMillis, 'exec');
  const readOnly = (policy.readOnly ?? []).includes(words[0] ?? '');
  const dryRun = session.run.dryRun && !readOnly;
  // In dry-run a read-only command runs, but never with the playbook's env: dry-run must not be a way to run a program under a chosen environment.
  const env = session.run.dryRun ? baseEnv : { ...baseEnv, ...checkedEnv.env };
  const detail = { argv: words, env: envForAudit(session.run.dryRun ? {} : checkedEnv.env), cwd };
  // Every command that ran is an action; in dry-run, only what was held back is (a read-only command just ran).
  if (!readOnly) session.records.addAction('exec', dryRun, { ...detail, env: envForAudit(checkedEnv.env) });
  else if (!session.run.dryRun) record('exec', detail);
  if (dryRun) return { code: 0, stdout: '', stderr: '', timed_out: false, dry_run: true };
  const result = await runCommand(resolved.path, { argv: words, env, cwd, timeoutMillis }, policy, session.abort.signal);
  return { code: result.code ?? -1, signal: result.signal ?? undefined, stdout: result.stdout, stderr: result.stderr, timed_out: result.timedOut };
}

async function httpCall(session: RunSession, args: unknown[], record: (kind: PlaybookAction['kind'], detail: Record<string, unknown>) => void): Promise<unknown> {
  const [method, rawUrl, opts] = args;
  const verb = method === 'POST' ? 'POST' : 'GET';
  const what = verb === 'POST' ? 'http.post' : 'http.get';
  const checked = checkUrl(asString(rawUrl, `${what}: url`), session.host.http);
  if ('error' in checked) refuse(checked.error.replace(/^http:/, `${what}:`));
  const options = asObject(opts, what);
  const headers: Record<string, string> = {};
  for (const [key, value] of Object.entries(asObject(options.headers, `${what}: headers`))) headers[key] = asString(value, `${what}: header ${key}`);
  let body: string | undefined;
  if (options.body !== undefined) {
    if (typeof options.body === 'string') body = options.body;
    else {
      body = JSON.stringify(options.body);
      headers['content-type'] ??= 'application/json';
    }
  }
  const origin = redactUrl(checked.url);
  if (verb === 'POST') {
    record('http.post', { origin });
    if (session.run.dryRun) return { status: 0, body: '', headers: {}, dry_run: true };
  } else if (!session.run.dryRun) record('http.get', { origin });
  const response = await httpRequest(checked.url, { method: verb, url: checked.url.href, headers, body, timeoutMillis: timeoutOption(options, defaultHttpTimeoutMillis, what) }, session.host.http, session.abort.signal);
  if ('error' in response) fail(response.error.replace(/^http:/, `${what}:`));
  return response;
}
