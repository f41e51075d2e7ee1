import type { SlothDashboard, PanelQuery } from './common.js';
import { dashboardUids } from './common.js';
import { asPromql, substitute } from './promql.js';

/**
 * What a dashboard may cost Prometheus with 100 agents reporting.
 *
 * `maxSeries` and `maxSamplesPerStep` do not depend on the machine, so the
 * test suite holds every dashboard to them (test/dashboards-query-budget.test.ts);
 * `p95Millis` is wall-clock, so only the benchmark checks it
 * (bench/grafana/query-budget.ts), never a test on a shared machine.
 */
export interface QueryBudget {
  /** Series one panel query may return: more is a legend nobody reads. Variables and tables list the fleet: one per agent. */
  readonly maxSeries: number;
  /**
   * Samples one query may read per evaluation step (Prometheus'
   * `totalQueryableSamples` over the steps). A 1 h dashboard at Grafana's
   * 15 s step has 240 steps; at the 10–50 M samples per second one core
   * evaluates, 10,000 a step is 2.4 M samples, 50–250 ms: the latency budget.
   */
  readonly maxSamplesPerStep: number;
  /** p95 latency of each query, run as Grafana runs it (range: 15 min at a 15 s step). */
  readonly p95Millis: number;
}

const standard: QueryBudget = { maxSeries: 100, maxSamplesPerStep: 10_000, p95Millis: 250 };

/** The budget of each dashboard, by uid. */
export const queryBudgets: Readonly<Record<string, QueryBudget>> = {
  [dashboardUids.fleet]: standard,
  [dashboardUids.agent]: standard,
  [dashboardUids.anomalies]: standard,
  [dashboardUids.scheduler]: standard,
  [dashboardUids.collector]: standard,
};

/** One query's measured cost. */
export interface QueryCost {
  readonly dashboard: string;
  readonly panel: string;
  readonly refId: string;
  readonly kind: PanelQuery['kind'];
  readonly expr: string;
  /** Series (or table rows) returned. */
  readonly series: number;
  /** `totalQueryableSamples` over the evaluation steps (1 for an instant query). */
  readonly samplesPerStep: number;
  readonly p95Millis: number;
}

export interface MeasureOptions {
  /** Prometheus base URL, e.g. `http://127.0.0.1:9090`. */
  readonly prometheusUrl: string;
  readonly dashboards: readonly SlothDashboard[];
  /** Values of the template variables (`agent`, `metric`). */
  readonly variables: Readonly<Record<string, string>>;
  /** What Grafana would put for `$__rate_interval`: four scrape intervals. */
  readonly rateInterval: string;
  /** Range queries' window in Unix seconds, and step. */
  readonly range: { readonly startSeconds: number; readonly endSeconds: number; readonly stepSeconds: number };
  /** Runs of each query; the p95 is over these. @defaultValue 5 */
  readonly repeat?: number;
}

interface StatsResponse {
  status: 'success' | 'error';
  error?: string;
  data?: { result: unknown[]; stats?: { samples?: { totalQueryableSamples?: number } } };
}

/** The q-quantile of ascending `sorted` (nearest rank). */
export function percentile(sorted: readonly number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))] ?? Number.NaN;
}

/** Runs every query of every dashboard through Prometheus' HTTP API with `stats=all`, `repeat` times, as Grafana runs it. */
export async function measureQueries(options: MeasureOptions): Promise<QueryCost[]> {
  const repeat = options.repeat ?? 5;
  if (!Number.isInteger(repeat) || repeat < 1) throw new Error(`repeat must be a positive integer, got ${repeat}`);
  const { startSeconds, endSeconds, stepSeconds } = options.range;
  if (!(endSeconds > startSeconds && stepSeconds > 0)) throw new Error(`bad range: start ${startSeconds}, end ${endSeconds}, step ${stepSeconds}`);
  const steps = Math.floor((endSeconds - startSeconds) / stepSeconds) + 1;
  const costs: QueryCost[] = [];
  for (const dashboard of options.dashboards) {
    for (const q of dashboard.queries) {
      const expr = substitute(asPromql(q.expr), options.variables, options.rateInterval);
      const params: Record<string, string> = q.instant
        ? { query: expr, time: String(endSeconds), stats: 'all' }
        : { query: expr, start: String(startSeconds), end: String(endSeconds), step: String(stepSeconds), stats: 'all' };
      const millis: number[] = [];
      let last: StatsResponse | undefined;
      for (let i = 0; i < repeat; i++) {
        const started = performance.now();
        const response = await fetch(`${options.prometheusUrl}/api/v1/${q.instant ? 'query' : 'query_range'}`, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: new URLSearchParams(params).toString(),
        });
        last = (await response.json()) as StatsResponse;
        millis.push(performance.now() - started);
      }
      if (last?.status !== 'success') throw new Error(`${dashboard.uid} / ${q.panel} ${q.refId}: Prometheus answered ${last?.error ?? 'no result'} for ${expr}`);
      const samples = last.data?.stats?.samples?.totalQueryableSamples;
      if (samples === undefined) throw new Error(`Prometheus gave no query stats for ${expr}: it needs to be 2.35 or newer`);
      millis.sort((a, b) => a - b);
      costs.push({
        dashboard: dashboard.uid,
        panel: q.panel,
        refId: q.refId,
        kind: q.kind,
        expr,
        series: last.data?.result.length ?? 0,
        samplesPerStep: samples / (q.instant ? 1 : steps),
        p95Millis: percentile(millis, 0.95),
      });
    }
  }
  return costs;
}

/** Queries lists the fleet (a variable, or a table of instant queries): they may return one row per agent. */
function listsFleet(cost: QueryCost, dashboards: readonly SlothDashboard[]): boolean {
  if (cost.kind === 'variable') return true;
  const panel = dashboards.find((d) => d.uid === cost.dashboard)?.json.panels?.find((p) => 'title' in p && p.title === cost.panel);
  return panel !== undefined && 'type' in panel && panel.type === 'table';
}

/**
 * The budget lines each query breaks, as readable sentences: `maxSeries`
 * (or `agents` for fleet lists) and `maxSamplesPerStep`; the latency too when
 * `withLatency` (the benchmark, not the test suite).
 */
export function overBudget(costs: readonly QueryCost[], dashboards: readonly SlothDashboard[], agents: number, withLatency: boolean): string[] {
  const over: string[] = [];
  for (const c of costs) {
    const budget = queryBudgets[c.dashboard];
    if (budget === undefined) {
      over.push(`${c.dashboard}: no budget in queryBudgets`);
      continue;
    }
    const what = `${c.dashboard} / ${c.panel} ${c.refId}`;
    const maxSeries = listsFleet(c, dashboards) ? Math.max(agents, budget.maxSeries) : budget.maxSeries;
    if (c.series > maxSeries) over.push(`${what}: ${c.series} series, budget ${maxSeries} (${c.expr})`);
    if (c.samplesPerStep > budget.maxSamplesPerStep) over.push(`${what}: ${Math.round(c.samplesPerStep)} samples per step, budget ${budget.maxSamplesPerStep} (${c.expr})`);
    if (withLatency && c.p95Millis > budget.p95Millis) over.push(`${what}: p95 ${c.p95Millis.toFixed(1)} ms, budget ${budget.p95Millis} ms (${c.expr})`);
  }
  return over;
}

/** A markdown table per dashboard: queries, the slowest query's p95, the p95 over its queries' p95s, most series, most samples per step. */
export function costTable(costs: readonly QueryCost[]): string {
  const lines = ['| dashboard | queries | p95 of query p95 (ms) | slowest query p95 (ms) | most series | most samples per step |', '|---|---|---|---|---|---|'];
  for (const uid of [...new Set(costs.map((c) => c.dashboard))]) {
    const mine = costs.filter((c) => c.dashboard === uid);
    const p95s = mine.map((c) => c.p95Millis).sort((a, b) => a - b);
    lines.push(
      `| ${uid} | ${mine.length} | ${percentile(p95s, 0.95).toFixed(1)} | ${Math.max(...p95s).toFixed(1)} | ${Math.max(...mine.map((c) => c.series))} | ${Math.round(Math.max(...mine.map((c) => c.samplesPerStep)))} |`,
    );
  }
  const all = costs.map((c) => c.p95Millis).sort((a, b) => a - b);
  lines.push('', `all ${costs.length} queries: p95 of query p95s ${percentile(all, 0.95).toFixed(1)} ms, max ${Math.max(...all).toFixed(1)} ms`);
  return lines.join('\n');
}
