import { cpus, freemem, totalmem } from 'node:os';
import { join } from 'node:path';
import { seriesId } from '@sloth/core/model';
import { SlothError } from '@sloth/core/errors';
import { execPolicyProblems } from './exec-policy.js';
import { FileStateStore, type StateStoreLimits } from './state-store.js';
import type { PlaybookMetricAttributes, PlaybookHost, PlaybookLogRecord, PlaybookRunContext } from './types.js';

export interface LocalHostOptions {
  /** Where `state.*` persists (file `playbook-state.json`). @defaultValue ./.sloth/agent/state */
  stateDir?: string;
  allowExec?: readonly string[];
  readOnlyExec?: readonly string[];
  /** Environment keys playbooks may set beyond the built-in allow-list, per command (`'*'`: every command). */
  allowExecEnv?: Readonly<Record<string, readonly string[]>>;
  /** Caps on the state store. @defaultValue 64 KiB per key, 1 MiB in total */
  stateLimits?: Partial<StateStoreLimits>;
  /** PATH for resolving allowed commands. @defaultValue the process PATH */
  searchPath?: string;
  allowHttp?: readonly string[];
  allowFsRoots?: readonly string[];
  /** Called for every log line, metric and alert as it happens (the CLI prints them). */
  print?: (line: string) => void;
}

export interface RecordedAlert {
  name: string;
  level: string;
  message: string;
  attrs: Record<string, unknown>;
  runId: string;
}

/**
 * A real host for running playbooks outside an agent (the CLI, tests):
 * metrics are kept in memory, alerts are recorded, state goes to a JSON file.
 */
export class LocalPlaybookHost implements PlaybookHost {
  readonly exec: PlaybookHost['exec'];
  readonly http: PlaybookHost['http'];
  readonly fs: PlaybookHost['fs'];
  readonly state: FileStateStore;
  readonly metrics = new Map<string, { kind: string; value: number }>();
  readonly alerts: RecordedAlert[] = [];
  private readonly print: (line: string) => void;

  constructor(options: LocalHostOptions = {}) {
    this.exec = {
      allow: options.allowExec ?? [],
      readOnly: options.readOnlyExec ?? [],
      ...(options.searchPath === undefined ? {} : { searchPath: options.searchPath }),
      ...(options.allowExecEnv === undefined ? {} : { allowEnv: options.allowExecEnv }),
    };
    const problems = execPolicyProblems(this.exec);
    if (problems.length > 0) throw new SlothError('SLOTH_ERR_CONFIG', `invalid exec policy: ${problems.join('; ')}`);
    this.http = { allowHosts: options.allowHttp ?? [] };
    this.fs = { allowRoots: options.allowFsRoots ?? [] };
    this.state = new FileStateStore(join(options.stateDir ?? join('.sloth', 'agent', 'state'), 'playbook-state.json'), options.stateLimits);
    this.print = options.print ?? (() => undefined);
  }

  log(record: PlaybookLogRecord, _run: PlaybookRunContext): void {
    const attrs = Object.keys(record.attrs).length === 0 ? '' : ` ${JSON.stringify(record.attrs)}`;
    this.print(`[${record.level}] ${record.message}${attrs}`);
  }

  metric(kind: 'gauge' | 'counter' | 'histogram', name: string, value: number, attrs: PlaybookMetricAttributes): void {
    const id = seriesId(name, stringLabels(attrs));
    const previous = this.metrics.get(id);
    const next = kind === 'counter' ? (previous?.value ?? 0) + value : value;
    this.metrics.set(id, { kind, value: next });
    this.print(`[metric] ${kind} ${id} ${value}`);
  }

  async latestMetric(name: string, attrs: PlaybookMetricAttributes): Promise<number | undefined> {
    return this.metrics.get(seriesId(name, stringLabels(attrs)))?.value;
  }

  async systemCpu(): Promise<number> {
    const before = cpuTimes();
    await new Promise((resolve) => setTimeout(resolve, 100));
    const after = cpuTimes();
    const total = after.total - before.total;
    return total <= 0 ? 0 : Math.round(((total - (after.idle - before.idle)) / total) * 10_000) / 100;
  }

  async systemMemory(): Promise<number> {
    return Math.round((1 - freemem() / totalmem()) * 10_000) / 100;
  }

  async alert(name: string, alert: { level: string; message: string; attrs: Record<string, unknown> }, run: PlaybookRunContext): Promise<void> {
    this.alerts.push({ name, ...alert, runId: run.runId });
    this.print(`[alert] ${name} (${alert.level}): ${alert.message}`);
  }
}

function stringLabels(attrs: PlaybookMetricAttributes): Record<string, string> {
  return Object.fromEntries(Object.entries(attrs).map(([k, v]) => [k, String(v)]));
}

function cpuTimes(): { idle: number; total: number } {
  let idle = 0;
  let total = 0;
  for (const cpu of cpus()) {
    idle += cpu.times.idle;
    total += cpu.times.user + cpu.times.nice + cpu.times.sys + cpu.times.irq + cpu.times.idle;
  }
  return { idle, total };
}
