import { alertSection, type AlertSection, type PeriodAlerts } from './alert-history.js';
import { keyMetrics, type Bucket, type CollectedAgent, type CollectedData, type CollectedSeries, type IncidentRecord, type KeyMetric, type RemediationRecord } from './data.js';
import { scalingSection, type ScalingSection } from './scaling-decisions.js';
import { taskSection, type TaskSection } from './task-history.js';
import { daysUntil, fitSeasonalTrend, forecastHours, gradeForecast, hourlyMeans, mean, type ForecastPoint, type TimedValue } from './stats.js';

/**
 * The report as numbers and sections, computed from collected data alone
 * (no I/O, no clock): `--format json` prints it and every renderer draws it.
 */
export interface ReportModel {
  readonly schemaVersion: 2;
  readonly title: string;
  readonly collector: string;
  readonly timezone: string;
  readonly period: { readonly fromMillis: number; readonly toMillis: number; readonly previousFromMillis: number };
  /** The data's end time, not the wall clock, so the same data gives the same report. */
  readonly generatedAtMillis: number;
  /** True when no agent sent any key metric in the period: renderers print the one-page "no data" report. */
  readonly empty: boolean;
  readonly summary: ReportSummary;
  readonly agents: readonly AgentSection[];
  readonly fleet: readonly ChartData[];
  readonly capacity: readonly CapacityRow[];
  readonly remediations: Availability<RemediationRecord>;
  readonly incidents: Availability<IncidentRecord>;
  readonly alerts: AlertSection | Unavailable;
  /** Predictive-scaling decisions of the period per target (scheduler API). */
  readonly scaling: ScalingSection | Unavailable;
  /** User tasks created in the period and what their placement did (scheduler API). */
  readonly tasks: TaskSection | Unavailable;
  readonly scorecard: readonly ScorecardRow[];
  /** Last period's "disk full in N days" warnings graded against this period, and disks that filled unwarned. */
  readonly diskPredictions: readonly DiskPredictionRow[];
}

export interface Unavailable {
  readonly available: false;
  readonly reason: string;
}

export type Availability<T> = { readonly available: true; readonly rows: readonly T[] } | Unavailable;

export interface Comparison {
  readonly current: number | null;
  readonly previous: number | null;
}

export interface PlaybookTally {
  readonly playbook: string;
  readonly run: number;
  readonly succeeded: number;
  readonly failed: number;
}

export interface ReportSummary {
  readonly agentCount: number;
  readonly agentsUp: number;
  readonly agentsDown: number;
  /** Fleet availability in percent: share of availability buckets with data. */
  readonly availabilityPercent: Comparison;
  readonly incidents: Comparison | null;
  readonly remediationsByPlaybook: readonly PlaybookTally[] | null;
  /** Alerts fired and resolved, time to resolve and flaps, against the previous period (previous null when the alerts log does not reach back). */
  readonly alerts: { readonly current: PeriodAlerts; readonly previous: PeriodAlerts | null } | null;
  /** Grades of last period's "disk full" warnings. */
  readonly diskPredictions: Readonly<Record<DiskPredictionOutcome, number>>;
  readonly mostAnomalous: ReadonlyArray<{ readonly seriesId: string; readonly agentId: string; readonly metric: string; readonly incidents: number; readonly maxScore: number }> | null;
  /** Fleet means of each key metric in percent. */
  readonly fleetMeans: Readonly<Record<KeyMetric, Comparison>>;
}

export interface ChartData {
  readonly id: string;
  readonly title: string;
  readonly agentId: string | null;
  readonly metric: KeyMetric;
  readonly points: readonly Bucket[];
  readonly forecast: readonly ForecastPoint[];
  readonly incidentMillis: readonly number[];
}

export interface AgentSection {
  readonly id: string;
  readonly state: 'up' | 'down';
  readonly lastSeenMillis: number;
  readonly availabilityPercent: Comparison;
  /** Mean and max of each key metric in percent (disk: the fullest filesystem). */
  readonly metrics: Readonly<Record<KeyMetric, { readonly mean: number | null; readonly max: number | null; readonly meanPrevious: number | null }>>;
  readonly incidents: number | null;
  readonly charts: readonly ChartData[];
}

export interface CapacityRow {
  readonly agentId: string;
  readonly metric: KeyMetric;
  readonly instance: string;
  readonly currentPercent: number;
  readonly forecast7dPercent: number;
  /** Days until 100 % on the current trend; null when not rising. */
  readonly daysUntilFull: number | null;
  readonly warning: boolean;
}

export interface ScorecardRow {
  readonly agentId: string;
  readonly metric: KeyMetric;
  readonly instance: string;
  readonly coveragePercent: number;
  readonly mase: number | null;
  readonly points: number;
}

/**
 * `hit`: a warned disk filled in this period; `miss`: its predicted day passed
 * in this period and it did not fill; `pending`: the predicted day is after
 * this period and it has not filled yet; `unwarned`: a disk filled in this
 * period without a warning at its start.
 */
export type DiskPredictionOutcome = 'hit' | 'miss' | 'pending' | 'unwarned';
export const diskPredictionOutcomes: readonly DiskPredictionOutcome[] = ['hit', 'miss', 'pending', 'unwarned'];

export interface DiskPredictionRow {
  readonly agentId: string;
  readonly instance: string;
  /** Days to full the previous period's data gave at this period's start; null when it was not rising. */
  readonly predictedDays: number | null;
  readonly predictedFullMillis: number | null;
  readonly outcome: DiskPredictionOutcome;
  /** First bucket of this period at or above {@link diskFullUtilization}. */
  readonly actualFullMillis: number | null;
  /** Actual minus predicted day, for hits. */
  readonly errorDays: number | null;
  /** Days to full from this period's data (the capacity section's figure). */
  readonly nowDaysUntilFull: number | null;
}

/** A filesystem at or above this utilization counts as full (the forecasts aim at 100 %; the agents' ratio is rounded). */
export const diskFullUtilization = 0.995;

export interface ModelOptions {
  /** IANA time zone for dates in the renderers. @defaultValue UTC */
  readonly timezone?: string;
  /** Warn when a filesystem fills within this many days. @defaultValue 14 */
  readonly diskWarningDays?: number;
}

const dayMillis = 86_400_000;
const round = (value: number, digits = 2): number => Number(value.toFixed(digits));
const percent = (value: number | null): number | null => (value === null ? null : round(value * 100));

function bucketMean(buckets: readonly Bucket[]): number | null {
  return mean(buckets.map((b) => b.avg));
}

function bucketMax(buckets: readonly Bucket[]): number | null {
  return buckets.length === 0 ? null : buckets.reduce((m, b) => Math.max(m, b.max), -Infinity);
}

const asTimed = (buckets: readonly Bucket[]): TimedValue[] => buckets.map((b) => ({ t: b.t, v: b.avg }));

/** The series each agent chart shows for a metric: disk is the fullest filesystem, others the only one. */
function primarySeries(series: readonly CollectedSeries[]): CollectedSeries | undefined {
  return [...series].sort((a, b) => (bucketMean(b.current) ?? -1) - (bucketMean(a.current) ?? -1) || (a.key < b.key ? -1 : 1))[0];
}

function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function tallyRemediations(rows: readonly RemediationRecord[]): PlaybookTally[] {
  const tallies = new Map<string, { run: number; succeeded: number; failed: number }>();
  for (const r of rows) {
    const t = tallies.get(r.playbook) ?? { run: 0, succeeded: 0, failed: 0 };
    if (['running', 'succeeded', 'failed'].includes(r.state)) t.run += 1;
    if (r.state === 'succeeded') t.succeeded += 1;
    if (r.state === 'failed') t.failed += 1;
    tallies.set(r.playbook, t);
  }
  return [...tallies].sort((a, b) => compareText(a[0], b[0])).map(([playbook, t]) => ({ playbook, ...t }));
}

function mostAnomalous(incidents: readonly IncidentRecord[]): NonNullable<ReportSummary['mostAnomalous']> {
  const bySeries = new Map<string, { seriesId: string; agentId: string; metric: string; incidents: number; maxScore: number }>();
  for (const i of incidents) {
    const entry = bySeries.get(i.seriesId) ?? { seriesId: i.seriesId, agentId: i.agentId, metric: i.metric, incidents: 0, maxScore: 0 };
    entry.incidents += 1;
    entry.maxScore = Math.max(entry.maxScore, round(i.maxScore, 3));
    bySeries.set(i.seriesId, entry);
  }
  return [...bySeries.values()].sort((a, b) => b.incidents - a.incidents || b.maxScore - a.maxScore || compareText(a.seriesId, b.seriesId)).slice(0, 5);
}

/** "weekly" and "daily" only when the period is exactly that long. */
function reportTitle(periodMillis: number): string {
  if (periodMillis === 7 * dayMillis) return 'Sloth weekly report';
  if (periodMillis === dayMillis) return 'Sloth daily report';
  return 'Sloth fleet report';
}

/** Builds the report model. Pure: the same data always gives the same model. */
export function buildReportModel(data: CollectedData, options: ModelOptions = {}): ReportModel {
  const { fromMillis, toMillis, previousFromMillis } = data;
  const periodMillis = toMillis - fromMillis;
  const warningDays = options.diskWarningDays ?? 14;
  const inPeriod = (t: number): boolean => t >= fromMillis && t <= toMillis;
  const inPrevious = (t: number): boolean => t >= previousFromMillis && t < fromMillis;
  const incidentsNow = data.incidents.available ? data.incidents.items.filter((i) => inPeriod(i.openedAtMillis)) : [];
  const incidentsBefore = data.incidents.available ? data.incidents.items.filter((i) => inPrevious(i.openedAtMillis)) : [];
  const remediationsNow = data.remediations.available ? data.remediations.items.filter((r) => inPeriod(r.createdAtMillis)) : [];

  const agents = [...data.agents].sort((a, b) => compareText(a.id, b.id));
  // Availability counts the buckets an agent could have reported in: from the period's start or the
  // agent's first appearance in the registry, whichever is later (an agent that joined yesterday was not
  // down all week). Data older than that first appearance (backfilled, or a registry started afresh)
  // proves the agent was there before: then the whole period counts. An agent that appeared after the
  // period and sent nothing in it: null, "not applicable", rather than 0 %.
  const bucket = data.availabilityBucketMillis;
  const expectedBuckets = (firstSeenMillis: number, present: number, from: number, to: number): number => {
    const whole = Math.max(1, Math.ceil((to - from) / bucket));
    const start = Math.max(from, Math.floor(firstSeenMillis / bucket) * bucket);
    const sinceFirstSeen = start >= to ? 0 : Math.min(whole, Math.max(1, Math.ceil((to - start) / bucket)));
    return present > sinceFirstSeen ? whole : sinceFirstSeen;
  };
  const availability = (present: number, expected: number): number | null => (expected === 0 ? null : Math.min(100, round((present / expected) * 100)));
  const expectedNow = (agent: CollectedAgent): number => expectedBuckets(agent.firstSeenMillis, agent.presentBuckets, fromMillis, toMillis);
  const expectedBefore = (agent: CollectedAgent): number => expectedBuckets(agent.firstSeenMillis, agent.presentBucketsPrevious, previousFromMillis, fromMillis);

  const seriesByAgent = new Map<string, CollectedSeries[]>();
  for (const s of [...data.series].sort((a, b) => compareText(a.key, b.key))) seriesByAgent.set(s.agentId, [...(seriesByAgent.get(s.agentId) ?? []), s]);

  const capacity: CapacityRow[] = [];
  const scorecard: ScorecardRow[] = [];
  const diskPredictions: DiskPredictionRow[] = [];
  const forecastHorizonMillis = Math.min(7 * dayMillis, Math.max(dayMillis, Math.round(periodMillis / 4)));

  const sections: AgentSection[] = agents.map((agent) => {
    const own = seriesByAgent.get(agent.id) ?? [];
    const agentIncidents = incidentsNow.filter((i) => i.agentId === agent.id);
    const metrics = {} as Record<KeyMetric, { mean: number | null; max: number | null; meanPrevious: number | null }>;
    const charts: ChartData[] = [];
    for (const metric of keyMetrics) {
      const ofMetric = own.filter((s) => s.metric === metric);
      const primary = primarySeries(ofMetric);
      metrics[metric] = {
        mean: percent(primary === undefined ? null : bucketMean(primary.current)),
        max: percent(primary === undefined ? null : bucketMax(primary.current)),
        meanPrevious: percent(primary === undefined ? null : bucketMean(primary.previous)),
      };
      for (const s of ofMetric) {
        const hourly = hourlyMeans(asTimed(s.current));
        const model = fitSeasonalTrend(hourly);
        if (model === undefined) continue;
        const last = hourly[hourly.length - 1] as TimedValue;
        if (metric === 'disk') {
          const days = daysUntil(model, 1, toMillis);
          const week = forecastHours(model, toMillis, 7 * dayMillis);
          capacity.push({
            agentId: agent.id,
            metric,
            instance: s.instance,
            currentPercent: round(last.v * 100),
            forecast7dPercent: round(Math.min(100, (week[week.length - 1]?.p50 ?? last.v) * 100)),
            daysUntilFull: days === undefined ? null : round(days, 1),
            warning: days !== undefined && days <= warningDays,
          });
        }
        const before = hourlyMeans(asTimed(s.previous));
        const earlier = fitSeasonalTrend(before);
        if (metric === 'disk') {
          const graded = gradeDiskPrediction(s, earlier, fromMillis, toMillis, warningDays, capacity[capacity.length - 1]?.daysUntilFull ?? null);
          if (graded !== undefined) diskPredictions.push({ agentId: agent.id, ...graded });
        }
        if (earlier !== undefined && before.length > 0) {
          const grade = gradeForecast(before, forecastHours(earlier, (before[before.length - 1] as TimedValue).t, periodMillis + dayMillis), hourly);
          if (grade !== undefined) {
            scorecard.push({ agentId: agent.id, metric, instance: s.instance, coveragePercent: round(grade.coverage * 100, 1), mase: grade.mase === null ? null : round(grade.mase, 2), points: grade.points });
          }
        }
        if (s === primary) {
          charts.push({
            id: `${agent.id}/${metric}`,
            title: `${agent.id}: ${metric}${s.instance === '' ? '' : ` (${s.instance})`}`,
            agentId: agent.id,
            metric,
            points: s.current,
            forecast: forecastHours(model, toMillis, forecastHorizonMillis),
            incidentMillis: agentIncidents.filter((i) => i.seriesId === s.key).map((i) => i.openedAtMillis).sort((a, b) => a - b),
          });
        }
      }
    }
    return {
      id: agent.id,
      state: agent.state,
      lastSeenMillis: agent.lastSeenMillis,
      availabilityPercent: {
        current: availability(agent.presentBuckets, expectedNow(agent)),
        previous: availability(agent.presentBucketsPrevious, expectedBefore(agent)),
      },
      metrics,
      incidents: data.incidents.available ? agentIncidents.length : null,
      charts,
    };
  });

  const fleet = keyMetrics.map((metric) => fleetChart(metric, sections));
  const fleetMeans = {} as Record<KeyMetric, Comparison>;
  for (const metric of keyMetrics) {
    const currents = sections.map((s) => s.metrics[metric].mean).filter((v): v is number => v !== null);
    const previous = sections.map((s) => s.metrics[metric].meanPrevious).filter((v): v is number => v !== null);
    fleetMeans[metric] = { current: currents.length === 0 ? null : round(mean(currents) ?? 0), previous: previous.length === 0 ? null : round(mean(previous) ?? 0) };
  }
  const alerts: AlertSection | Unavailable = data.alerts.available ? alertSection(data.alerts, previousFromMillis, fromMillis, toMillis) : { available: false, reason: data.alerts.reason };
  const present = agents.reduce((n, a) => n + a.presentBuckets, 0);
  const presentBefore = agents.reduce((n, a) => n + a.presentBucketsPrevious, 0);
  const expectedInPeriod = agents.reduce((n, a) => n + expectedNow(a), 0);
  const expectedInPrevious = agents.reduce((n, a) => n + expectedBefore(a), 0);
  const empty = data.series.every((s) => s.current.length === 0);

  return {
    schemaVersion: 2,
    title: reportTitle(periodMillis),
    collector: data.collector,
    timezone: options.timezone ?? 'UTC',
    period: { fromMillis, toMillis, previousFromMillis },
    generatedAtMillis: toMillis,
    empty,
    summary: {
      agentCount: agents.length,
      agentsUp: agents.filter((a) => a.state === 'up').length,
      agentsDown: agents.filter((a) => a.state === 'down').length,
      availabilityPercent: { current: availability(present, expectedInPeriod), previous: availability(presentBefore, expectedInPrevious) },
      incidents: data.incidents.available ? { current: incidentsNow.length, previous: incidentsBefore.length } : null,
      remediationsByPlaybook: data.remediations.available ? tallyRemediations(remediationsNow) : null,
      alerts: alerts.available ? { current: alerts.current, previous: alerts.previous } : null,
      diskPredictions: Object.fromEntries(diskPredictionOutcomes.map((o) => [o, diskPredictions.filter((d) => d.outcome === o).length])) as Record<DiskPredictionOutcome, number>,
      mostAnomalous: data.incidents.available ? mostAnomalous(incidentsNow) : null,
      fleetMeans,
    },
    agents: sections,
    fleet,
    capacity: capacity.sort((a, b) => (a.daysUntilFull ?? Infinity) - (b.daysUntilFull ?? Infinity) || compareText(a.agentId, b.agentId) || compareText(a.instance, b.instance)),
    remediations: data.remediations.available
      ? { available: true, rows: [...remediationsNow].sort((a, b) => a.createdAtMillis - b.createdAtMillis || compareText(a.id, b.id)) }
      : { available: false, reason: data.remediations.reason },
    incidents: data.incidents.available ? { available: true, rows: [...incidentsNow].sort((a, b) => a.openedAtMillis - b.openedAtMillis || compareText(a.incidentId, b.incidentId)) } : { available: false, reason: data.incidents.reason },
    alerts,
    scaling: data.scaling.available ? scalingSection(data.scaling.items, fromMillis, toMillis) : { available: false, reason: data.scaling.reason },
    tasks: data.tasks.available ? taskSection(data.tasks, fromMillis, toMillis) : { available: false, reason: data.tasks.reason },
    scorecard,
    diskPredictions: diskPredictions.sort((a, b) => diskPredictionOutcomes.indexOf(a.outcome) - diskPredictionOutcomes.indexOf(b.outcome) || compareText(a.agentId, b.agentId) || compareText(a.instance, b.instance)),
  };
}

/**
 * Grades the warning the previous period's data gave for one filesystem at
 * this period's start (the capacity section's model and limit, fitted on the
 * previous period alone). Undefined when there was no warning and the disk
 * did not fill, or too little previous data to fit.
 */
function gradeDiskPrediction(
  s: CollectedSeries,
  earlier: ReturnType<typeof fitSeasonalTrend>,
  fromMillis: number,
  toMillis: number,
  warningDays: number,
  nowDaysUntilFull: number | null,
): Omit<DiskPredictionRow, 'agentId'> | undefined {
  if (earlier === undefined) return undefined;
  const days = daysUntil(earlier, 1, fromMillis);
  const warned = days !== undefined && days <= warningDays;
  const full = s.current.find((b) => b.max >= diskFullUtilization);
  const actualFullMillis = full === undefined ? null : Math.max(fromMillis, full.t);
  if (!warned && actualFullMillis === null) return undefined;
  const predictedFullMillis = days === undefined ? null : Math.round(fromMillis + days * dayMillis);
  let outcome: DiskPredictionOutcome;
  if (!warned) outcome = 'unwarned';
  else if (actualFullMillis !== null) outcome = 'hit';
  else outcome = (predictedFullMillis as number) <= toMillis ? 'miss' : 'pending';
  return {
    instance: s.instance,
    predictedDays: days === undefined ? null : round(days, 1),
    predictedFullMillis,
    outcome,
    actualFullMillis,
    errorDays: outcome === 'hit' && predictedFullMillis !== null && actualFullMillis !== null ? round((actualFullMillis - predictedFullMillis) / dayMillis, 1) : null,
    nowDaysUntilFull,
  };
}

/** Fleet chart of one metric: per bucket, the mean over the agents' charted series and their range. */
function fleetChart(metric: KeyMetric, sections: readonly AgentSection[]): ChartData {
  const byTime = new Map<number, { min: number; max: number; sum: number; n: number }>();
  for (const chart of sections.flatMap((s) => s.charts)) {
    if (chart.metric !== metric) continue;
    for (const b of chart.points) {
      const e = byTime.get(b.t) ?? { min: Infinity, max: -Infinity, sum: 0, n: 0 };
      e.min = Math.min(e.min, b.avg);
      e.max = Math.max(e.max, b.avg);
      e.sum += b.avg;
      e.n += 1;
      byTime.set(b.t, e);
    }
  }
  const points = [...byTime].sort((a, b) => a[0] - b[0]).map(([t, e]) => ({ t, min: e.min, max: e.max, avg: e.sum / e.n }));
  return { id: `fleet/${metric}`, title: `Fleet ${metric}: mean and range over agents`, agentId: null, metric, points, forecast: [], incidentMillis: [] };
}
