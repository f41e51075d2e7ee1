/**
 * `sloth status`: reads agents and their latest key metrics through the
 * collector's query API and renders them as a terminal table.
 */
import { QueryClient, type QueryFailure } from '@sloth/core/client';
import type { AgentInfo as CoreAgentInfo, LatestPoint as CoreLatestPoint } from '@sloth/core';

/** An agent as `/api/v1/agents` returns it (the query client's schema). */
export type AgentInfo = CoreAgentInfo;

/** A point as `/api/v1/latest` returns it (the fields the table reads). */
export type LatestPoint = Pick<CoreLatestPoint, 'key' | 'name' | 'agentId' | 'labels' | 't' | 'v'>;

/** One row of the status table. Metrics are null when the agent does not report them. */
export interface AgentStatusRow {
  readonly id: string;
  readonly state: 'up' | 'down';
  readonly lastSeenMillis: number;
  readonly cpuPercent: number | null;
  readonly memoryPercent: number | null;
  readonly load1: number | null;
}

export type StatusResult =
  | { readonly ok: true; readonly rows: AgentStatusRow[] }
  | { readonly ok: false; readonly reason: 'unreachable' | 'unauthorized' | 'failed'; readonly message: string };

/** The metrics the table shows (OpenTelemetry semantic conventions, as the Sloth agent reports them). */
export const statusMetricNames = [
  'system.cpu.utilization',
  'system.memory.utilization',
  'system.memory.usage',
  'system.memory.limit',
  'system.cpu.load_average.1m',
] as const;

const stateLabels = ['state', 'cpu.state', 'cpu.mode', 'system.cpu.state'];
const cpuLabels = ['cpu', 'cpu.logical_number', 'system.cpu.logical_number'];
const idleStates = new Set(['idle']);

function labelOf(labels: Readonly<Record<string, string>>, names: readonly string[]): string | undefined {
  for (const name of names) {
    const value = labels[name];
    if (value !== undefined) return value;
  }
  return undefined;
}

function finite(values: ReadonlyArray<number | null>): number[] {
  return values.filter((v): v is number => v !== null && Number.isFinite(v));
}

function mean(values: readonly number[]): number | null {
  return values.length === 0 ? null : values.reduce((a, b) => a + b, 0) / values.length;
}

/**
 * CPU busy share in percent: the total point (no cpu/state labels) when
 * there is one, else the mean over CPUs of (1 − idle) or of the summed
 * non-idle states, else the mean of per-CPU values.
 */
export function cpuPercent(points: readonly LatestPoint[]): number | null {
  const total = points.find((p) => labelOf(p.labels, cpuLabels) === undefined && labelOf(p.labels, stateLabels) === undefined);
  if (total !== undefined && total.v !== null) return total.v * 100;
  const withState = points.filter((p) => labelOf(p.labels, stateLabels) !== undefined);
  if (withState.length > 0) {
    const perCpu = new Map<string, { idle: number | null; busy: number }>();
    for (const p of withState) {
      const cpu = labelOf(p.labels, cpuLabels) ?? 'all';
      const entry = perCpu.get(cpu) ?? { idle: null, busy: 0 };
      const state = labelOf(p.labels, stateLabels) ?? '';
      if (p.v !== null && Number.isFinite(p.v)) {
        if (idleStates.has(state)) entry.idle = p.v;
        else entry.busy += p.v;
      }
      perCpu.set(cpu, entry);
    }
    const busy = mean([...perCpu.values()].map((e) => (e.idle !== null ? 1 - e.idle : e.busy)));
    return busy === null ? null : busy * 100;
  }
  const perCore = mean(finite(points.map((p) => p.v)));
  return perCore === null ? null : perCore * 100;
}

/** Memory used in percent: `system.memory.utilization{state=used}`, else usage(used) / limit (or / sum of usage states). */
export function memoryPercent(utilization: readonly LatestPoint[], usage: readonly LatestPoint[], limit: readonly LatestPoint[]): number | null {
  const used = utilization.find((p) => (labelOf(p.labels, ['state', 'system.memory.state']) ?? 'used') === 'used');
  if (used !== undefined && used.v !== null) return used.v * 100;
  const usedBytes = usage.find((p) => labelOf(p.labels, ['state', 'system.memory.state']) === 'used')?.v ?? null;
  if (usedBytes === null) return null;
  const limitBytes = limit[0]?.v ?? finite(usage.map((p) => p.v)).reduce((a, b) => a + b, 0);
  return limitBytes > 0 ? (usedBytes / limitBytes) * 100 : null;
}

/** Joins agents with their latest key metrics. */
export function summarizeAgents(agents: readonly AgentInfo[], points: readonly LatestPoint[]): AgentStatusRow[] {
  const byAgent = new Map<string, Map<string, LatestPoint[]>>();
  for (const p of points) {
    const metrics = byAgent.get(p.agentId) ?? new Map<string, LatestPoint[]>();
    metrics.set(p.name, [...(metrics.get(p.name) ?? []), p]);
    byAgent.set(p.agentId, metrics);
  }
  return agents.map((agent) => {
    const metrics = byAgent.get(agent.id) ?? new Map<string, LatestPoint[]>();
    const of = (name: string): LatestPoint[] => metrics.get(name) ?? [];
    const load = of('system.cpu.load_average.1m')[0]?.v ?? null;
    return {
      id: agent.id,
      state: agent.state,
      lastSeenMillis: agent.lastSeenMillis,
      cpuPercent: cpuPercent(of('system.cpu.utilization')),
      memoryPercent: memoryPercent(of('system.memory.utilization'), of('system.memory.usage'), of('system.memory.limit')),
      load1: load,
    };
  });
}

/** `12s ago`, `5m ago`, `3h ago`, `2d ago`; `just now` under a second or for clocks slightly ahead. */
export function formatAgo(lastSeenMillis: number, nowMillis: number): string {
  const seconds = Math.floor((nowMillis - lastSeenMillis) / 1000);
  if (seconds < 1) return 'just now';
  if (seconds < 120) return `${seconds}s ago`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 120) return `${minutes}m ago`;
  const hours = Math.floor(minutes / 60);
  if (hours < 48) return `${hours}h ago`;
  return `${Math.floor(hours / 24)}d ago`;
}

function fixed(value: number | null, digits: number): string {
  return value === null || !Number.isFinite(value) ? '-' : value.toFixed(digits);
}

const ansi = { green: '\u001b[32m', red: '\u001b[31m', bold: '\u001b[1m', reset: '\u001b[0m' };

/** A plain-text table; with `color` (a TTY) the header is bold and states are green/red. */
export function formatStatusTable(rows: readonly AgentStatusRow[], options: { nowMillis: number; color: boolean }): string {
  if (rows.length === 0) return 'No agents have reported to this collector yet.\n';
  const header = ['AGENT', 'STATE', 'LAST SEEN', 'CPU %', 'MEM %', 'LOAD 1m'];
  const cells = rows.map((r) => [r.id, r.state, formatAgo(r.lastSeenMillis, options.nowMillis), fixed(r.cpuPercent, 1), fixed(r.memoryPercent, 1), fixed(r.load1, 2)]);
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => (c[i] ?? '').length)));
  const rightAligned = new Set([3, 4, 5]);
  const pad = (text: string, i: number): string => (rightAligned.has(i) ? text.padStart(widths[i] ?? 0) : text.padEnd(widths[i] ?? 0));
  const line = (values: readonly string[], paint: (text: string, i: number) => string = (t) => t): string =>
    values
      .map((v, i) => paint(pad(v, i), i))
      .join('  ')
      .trimEnd();
  const lines = [line(header, (t) => (options.color ? `${ansi.bold}${t}${ansi.reset}` : t))];
  for (const row of cells) {
    lines.push(
      line(row, (t, i) => {
        if (!options.color || i !== 1) return t;
        return `${t.startsWith('up') ? ansi.green : ansi.red}${t}${ansi.reset}`;
      }),
    );
  }
  const down = rows.filter((r) => r.state === 'down').length;
  lines.push('', `${rows.length} agent${rows.length === 1 ? '' : 's'}, ${rows.length - down} up, ${down} down`);
  return `${lines.join('\n')}\n`;
}

export interface FetchStatusOptions {
  /** @defaultValue `http://127.0.0.1:4318` */
  readonly collectorUrl: string;
  readonly token?: string;
  /** @defaultValue 5000 */
  readonly timeoutMillis?: number;
}

function statusFailure(failure: QueryFailure): StatusResult {
  const reason = failure.kind === 'unauthorized' ? 'unauthorized' : failure.kind === 'unreachable' || failure.kind === 'timeout' ? 'unreachable' : 'failed';
  return { ok: false, reason, message: failure.message };
}

/** Reads `/api/v1/agents` and `/api/v1/latest` (for the key metrics) through the query client and joins them. */
export async function fetchStatus(options: FetchStatusOptions): Promise<StatusResult> {
  let client: QueryClient;
  try {
    client = new QueryClient({ baseUrl: options.collectorUrl, timeoutMillis: options.timeoutMillis ?? 5_000, ...(options.token === undefined ? {} : { token: options.token }) });
  } catch {
    return { ok: false, reason: 'failed', message: `--collector ${JSON.stringify(options.collectorUrl)} is not a URL (e.g. http://127.0.0.1:4318)` };
  }
  const agents = await client.agents();
  if (!agents.ok) return statusFailure(agents);
  const latest = await Promise.all(statusMetricNames.map((name) => client.latest({ name })));
  const points: LatestPoint[] = [];
  for (const answer of latest) {
    if (!answer.ok) return statusFailure(answer);
    points.push(...answer.value);
  }
  return { ok: true, rows: summarizeAgents(agents.value, points) };
}
