import { keyMetrics, keyMetricTitles } from './data.js';
import { delta, formatDateTime, formatDuration, num } from './format.js';
import type { ReportModel } from './model.js';

/**
 * The report's tables as text cells, shared by the PDF, Markdown and CSV
 * renderers so every format prints the same numbers from the same model.
 */
export interface TextTable {
  readonly id: string;
  readonly title: string;
  readonly columns: readonly string[];
  /** Columns holding numbers (right-aligned). */
  readonly numeric: readonly number[];
  readonly rows: ReadonlyArray<readonly string[]>;
  /** Shown instead of the rows when the source does not exist. */
  readonly unavailable?: string;
}

const notAvailable = (reason: string): string => `not available: ${reason}`;

export function summaryTable(model: ReportModel): TextTable {
  const s = model.summary;
  const rows: string[][] = [
    ['Agents (up / down)', `${s.agentCount} (${s.agentsUp} / ${s.agentsDown})`, '', ''],
    ['Agent availability %', num(s.availabilityPercent.current, 2), num(s.availabilityPercent.previous, 2), delta(s.availabilityPercent.current, s.availabilityPercent.previous, 2)],
  ];
  if (s.incidents === null) rows.push(['Incidents', model.incidents.available ? '' : notAvailable(model.incidents.reason), '', '']);
  else rows.push(['Incidents', String(s.incidents.current), String(s.incidents.previous), delta(s.incidents.current, s.incidents.previous, 0)]);
  rows.push(['Alerts fired / resolved', model.alerts.available ? '' : notAvailable(model.alerts.reason), '', '']);
  for (const metric of keyMetrics) {
    const m = s.fleetMeans[metric];
    rows.push([`Fleet mean ${keyMetricTitles[metric]} %`, num(m.current, 2), num(m.previous, 2), delta(m.current, m.previous, 2)]);
  }
  const warnings = model.capacity.filter((c) => c.warning).length;
  rows.push(['Disk-full warnings', String(warnings), '', '']);
  return { id: 'summary', title: 'Against the previous period', columns: ['Measure', 'This period', 'Previous period', 'Change'], numeric: [1, 2, 3], rows };
}

export function remediationTallyTable(model: ReportModel): TextTable {
  const tallies = model.summary.remediationsByPlaybook;
  return {
    id: 'remediations-by-playbook',
    title: 'Remediations by playbook',
    columns: ['Playbook', 'Run', 'Succeeded', 'Failed'],
    numeric: [1, 2, 3],
    rows: (tallies ?? []).map((t) => [t.playbook, String(t.run), String(t.succeeded), String(t.failed)]),
    ...(model.remediations.available ? {} : { unavailable: notAvailable(model.remediations.reason) }),
  };
}

export function anomalousTable(model: ReportModel): TextTable {
  return {
    id: 'most-anomalous',
    title: 'Most anomalous series',
    columns: ['Series', 'Agent', 'Incidents', 'Max score'],
    numeric: [2, 3],
    rows: (model.summary.mostAnomalous ?? []).map((a) => [a.seriesId, a.agentId, String(a.incidents), num(a.maxScore, 3)]),
    ...(model.incidents.available ? {} : { unavailable: notAvailable(model.incidents.reason) }),
  };
}

export function agentTable(model: ReportModel): TextTable {
  return {
    id: 'agents',
    title: 'Agents',
    columns: ['Agent', 'State', 'Availability %', 'CPU mean %', 'CPU max %', 'Mem mean %', 'Disk max %', 'Incidents'],
    numeric: [2, 3, 4, 5, 6, 7],
    rows: model.agents.map((a) => [
      a.id,
      a.state,
      num(a.availabilityPercent.current, 2),
      num(a.metrics.cpu.mean),
      num(a.metrics.cpu.max),
      num(a.metrics.memory.mean),
      num(a.metrics.disk.max),
      a.incidents === null ? '-' : String(a.incidents),
    ]),
  };
}

export function capacityTable(model: ReportModel): TextTable {
  return {
    id: 'capacity',
    title: 'Capacity: filesystems, 7-day forecast',
    columns: ['Agent', 'Filesystem', 'Now %', 'In 7 days %', 'Full in (days)', 'Warning'],
    numeric: [2, 3, 4],
    rows: model.capacity.map((c) => [c.agentId, c.instance === '' ? '-' : c.instance, num(c.currentPercent), num(c.forecast7dPercent), c.daysUntilFull === null ? 'not rising' : num(c.daysUntilFull), c.warning ? `disk full in ${num(c.daysUntilFull)} days` : '']),
  };
}

export function remediationLogTable(model: ReportModel): TextTable {
  const rows = model.remediations.available
    ? model.remediations.rows.map((r) => [formatDateTime(r.createdAtMillis, model.timezone), r.agentId, r.playbook, r.state, formatDuration(r.durationMillis), r.message])
    : [];
  return {
    id: 'remediation-log',
    title: 'Remediation log',
    columns: ['Time', 'Agent', 'Playbook', 'State', 'Duration', 'Message'],
    numeric: [],
    rows,
    ...(model.remediations.available ? {} : { unavailable: notAvailable(model.remediations.reason) }),
  };
}

export function incidentTable(model: ReportModel): TextTable {
  const rows = model.incidents.available
    ? model.incidents.rows.map((i) => [formatDateTime(i.openedAtMillis, model.timezone), i.resolvedAtMillis === null ? 'open' : formatDateTime(i.resolvedAtMillis, model.timezone), i.agentId, i.metric, i.direction, num(i.maxScore, 3)])
    : [];
  return {
    id: 'incidents',
    title: 'Incident history',
    columns: ['Opened', 'Resolved', 'Agent', 'Metric', 'Direction', 'Max score'],
    numeric: [5],
    rows,
    ...(model.incidents.available ? {} : { unavailable: notAvailable(model.incidents.reason) }),
  };
}

export function alertTable(model: ReportModel): TextTable {
  return { id: 'alerts', title: 'Alert history', columns: ['Fired', 'Resolved', 'Rule', 'Agent'], numeric: [], rows: [], ...(model.alerts.available ? {} : { unavailable: notAvailable(model.alerts.reason) }) };
}

export function scorecardTable(model: ReportModel): TextTable {
  return {
    id: 'scorecard',
    title: 'Forecast scorecard',
    columns: ['Agent', 'Metric', 'Series', 'p10-p90 coverage %', 'MASE', 'Hours graded'],
    numeric: [3, 4, 5],
    rows: model.scorecard.map((r) => [r.agentId, r.metric, r.instance === '' ? '-' : r.instance, num(r.coveragePercent), num(r.mase, 2), String(r.points)]),
    ...(model.scorecard.length === 0 ? { unavailable: 'not available: no series has data in both this period and the previous one' } : {}),
  };
}

/** Every table in report order. */
export function allTables(model: ReportModel): TextTable[] {
  return [summaryTable(model), remediationTallyTable(model), anomalousTable(model), agentTable(model), capacityTable(model), remediationLogTable(model), incidentTable(model), alertTable(model), scorecardTable(model)];
}
