import { keyMetrics, keyMetricTitles } from './data.js';
import { delta, formatDateTime, formatDuration, formatMinutes, num } from './format.js';
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
  /** A line printed under the title (what the figures rest on). */
  readonly note?: string;
  /** Columns of long text that wrap in the PDF instead of being cut. */
  readonly wrap?: readonly number[];
  /** Shown instead of the rows when there are none. @defaultValue "none in this period" */
  readonly empty?: string;
}

const notAvailable = (reason: string): string => `not available: ${reason}`;

function minutesDelta(current: number | null, previous: number | null): string {
  if (current === null || previous === null) return '-';
  const d = current - previous;
  return `${d >= 0 ? '+' : '-'}${formatMinutes(Math.abs(d))}`;
}

export function summaryTable(model: ReportModel): TextTable {
  const s = model.summary;
  const rows: string[][] = [
    ['Agents (up / down)', `${s.agentCount} (${s.agentsUp} / ${s.agentsDown})`, '', ''],
    ['Agent availability %', num(s.availabilityPercent.current, 2), num(s.availabilityPercent.previous, 2), delta(s.availabilityPercent.current, s.availabilityPercent.previous, 2)],
  ];
  if (s.incidents === null) rows.push(['Incidents', model.incidents.available ? '' : notAvailable(model.incidents.reason), '', '']);
  else rows.push(['Incidents', String(s.incidents.current), String(s.incidents.previous), delta(s.incidents.current, s.incidents.previous, 0)]);
  if (s.alerts === null) rows.push(['Alerts fired / resolved', model.alerts.available ? '' : notAvailable(model.alerts.reason), '', '']);
  else {
    const { current, previous } = s.alerts;
    rows.push(['Alerts fired', String(current.fired), previous === null ? '-' : String(previous.fired), delta(current.fired, previous?.fired ?? null, 0)]);
    rows.push(['Alerts resolved', String(current.resolved), previous === null ? '-' : String(previous.resolved), delta(current.resolved, previous?.resolved ?? null, 0)]);
    rows.push(['Alert time to resolve (median)', formatMinutes(current.medianMinutesToResolve), formatMinutes(previous?.medianMinutesToResolve ?? null), minutesDelta(current.medianMinutesToResolve, previous?.medianMinutesToResolve ?? null)]);
    rows.push(['Alert flaps', String(current.flaps), previous === null ? '-' : String(previous.flaps), delta(current.flaps, previous?.flaps ?? null, 0)]);
  }
  for (const metric of keyMetrics) {
    const m = s.fleetMeans[metric];
    rows.push([`Fleet mean ${keyMetricTitles[metric]} %`, num(m.current, 2), num(m.previous, 2), delta(m.current, m.previous, 2)]);
  }
  const warnings = model.capacity.filter((c) => c.warning).length;
  rows.push(['Disk-full warnings', String(warnings), '', '']);
  const graded = s.diskPredictions;
  rows.push(['Last period\u2019s disk-full warnings', `${graded.hit} hit, ${graded.miss} missed, ${graded.pending} pending; ${graded.unwarned} unwarned fills`, '', '']);
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
    wrap: [5],
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

function alertHistoryNote(model: ReportModel): string {
  if (!model.alerts.available || model.alerts.historyFromMillis === null) return '';
  return ` The alerts service keeps its newest notifications only: this history starts at ${formatDateTime(model.alerts.historyFromMillis, model.timezone)}, so the previous period is not compared.`;
}

export function alertNoiseTable(model: ReportModel): TextTable {
  const a = model.alerts;
  return {
    id: 'alert-noise',
    title: 'Alert noise: top firing rules',
    columns: ['Rule', 'Fired', 'Resolved', 'Flaps', 'Groups', 'Median time to resolve'],
    numeric: [1, 2, 3, 4, 5],
    rows: a.available ? a.topRules.map((r) => [r.rule, String(r.fired), String(r.resolved), String(r.flaps), String(r.groups), formatMinutes(r.medianMinutesToResolve)]) : [],
    ...(a.available
      ? { note: `A flap is an alert firing again after it resolved, both in the period. When the report read it, the service held ${a.atRead.firing} firing alert${a.atRead.firing === 1 ? '' : 's'} (${a.atRead.flapping} held as flapping) and ${a.atRead.pending} pending.${alertHistoryNote(model)}` }
      : { unavailable: notAvailable(a.reason) }),
  };
}

export function flappingTable(model: ReportModel): TextTable {
  const a = model.alerts;
  return {
    id: 'flapping-alerts',
    title: 'Flapping alerts',
    columns: ['Rule', 'Group', 'Flaps', 'Fired'],
    numeric: [2, 3],
    rows: a.available ? a.flapping.map((f) => [f.rule, f.group === '' ? '-' : f.group, String(f.flaps), String(f.fired)]) : [],
    ...(a.available ? {} : { unavailable: notAvailable(a.reason) }),
  };
}

export function alertTable(model: ReportModel): TextTable {
  const a = model.alerts;
  const tz = model.timezone;
  const rows = a.available
    ? a.rows.map((o) => [
        o.firedAtMillis === null ? 'before the log' : formatDateTime(o.firedAtMillis, tz),
        o.resolvedAtMillis === null ? 'firing' : formatDateTime(o.resolvedAtMillis, tz),
        o.rule,
        o.group === '' ? '-' : o.group,
        o.firedAtMillis === null || o.resolvedAtMillis === null ? '-' : formatMinutes((o.resolvedAtMillis - o.firedAtMillis) / 60_000),
        o.receiver,
      ])
    : [];
  return {
    id: 'alerts',
    title: 'Alert history',
    columns: ['Fired', 'Resolved', 'Rule', 'Group', 'Time to resolve', 'Receiver'],
    numeric: [4],
    rows,
    ...(a.available ? { note: `Times are those of the notifications (after the route\u2019s group wait), one line per alert firing.${alertHistoryNote(model)}` } : { unavailable: notAvailable(a.reason) }),
  };
}

export function scalingTargetTable(model: ReportModel): TextTable {
  const sc = model.scaling;
  return {
    id: 'scaling-targets',
    title: 'Scaling targets',
    columns: ['Target', 'Mode', 'Decisions', 'Scale-out', 'Scale-in', 'Held', 'Acted', 'Forecast-only', 'Failed', 'Replicas'],
    numeric: [2, 3, 4, 5, 6, 7, 8, 9],
    rows: sc.available
      ? sc.targets.map((t) => [t.target, t.mode, String(t.decisions), String(t.scaleOut), String(t.scaleIn), String(t.held), String(t.acted), String(t.forecastOnly), String(t.failed), t.replicasMin === null ? '-' : t.replicasMin === t.replicasMax ? String(t.replicasMin) : `${t.replicasMin}-${t.replicasMax}`])
      : [],
    ...(sc.available
      ? sc.targets.some((t) => t.historyFromMillis !== null)
        ? { note: `The scheduler keeps each target\u2019s newest 1000 decisions: ${sc.targets.filter((t) => t.historyFromMillis !== null).map((t) => `${t.target} from ${formatDateTime(t.historyFromMillis as number, model.timezone)}`).join(', ')}.` }
        : {}
      : { unavailable: notAvailable(sc.reason) }),
  };
}

export function scalingDecisionTable(model: ReportModel): TextTable {
  const sc = model.scaling;
  return {
    id: 'scaling-decisions',
    title: 'Scaling decisions (changes and failures)',
    columns: ['Time', 'Target', 'Action', 'Demand', 'Outcome', 'Reason'],
    numeric: [3],
    wrap: [5],
    rows: sc.available ? sc.rows.map((d) => [formatDateTime(d.timestampMillis, model.timezone), d.target, `${d.action} ${d.previousReplicas} -> ${d.replicas}`, num(d.demand, 1), d.outcome, d.reason]) : [],
    ...(sc.available ? {} : { unavailable: notAvailable(sc.reason) }),
  };
}

function taskHistoryNote(model: ReportModel): string {
  if (!model.tasks.available || model.tasks.historyFromMillis === null) return '';
  return ` The scheduler answered with its newest 10,000 tasks: they start at ${formatDateTime(model.tasks.historyFromMillis, model.timezone)}, so earlier tasks of the period are not counted.`;
}

const noTasks = 'no tasks in this period';

export function taskSummaryTable(model: ReportModel): TextTable {
  const t = model.tasks;
  const rows: string[][] = [];
  if (t.available && t.tasks > 0) {
    rows.push(['Tasks created', String(t.tasks)]);
    for (const s of t.states) rows.push([s.state === '' ? '(no state)' : s.state, String(s.tasks)]);
    rows.push(['Success rate % (of succeeded and failed)', num(t.successRatePercent, 1)]);
    rows.push(['Retries (attempts after the first)', String(t.retries)]);
    rows.push(['Redelivered runs (redeliveries)', `${t.redeliveredRuns} (${t.redeliveries})`]);
    rows.push(['Wait to first placement, median', formatDuration(t.waitToPlaceMillis.median)]);
    rows.push(['Wait to first placement, p95', formatDuration(t.waitToPlaceMillis.p95)]);
    rows.push(['Run time, median', formatDuration(t.runMillis.median)]);
  }
  return {
    id: 'tasks',
    title: 'Tasks',
    columns: ['Measure', 'Value'],
    numeric: [1],
    rows,
    empty: noTasks,
    ...(t.available
      ? { note: `Tasks submitted in the period (sloth task submit), in the state the scheduler held when the report read it. Waits run from submission to first placement; run times from start to finish of each attempt that ended.${taskHistoryNote(model)}` }
      : { unavailable: notAvailable(t.reason) }),
  };
}

export function taskAgentTable(model: ReportModel): TextTable {
  const t = model.tasks;
  const more = t.available && t.otherAgents.agents > 0 ? { note: `The ${t.agents.length} agents with the most placements; ${t.otherAgents.agents} more had ${t.otherAgents.placements}.` } : {};
  return {
    id: 'task-agents',
    title: 'Task placements per agent',
    columns: ['Agent', 'Placements', 'Succeeded', 'Failed'],
    numeric: [1, 2, 3],
    rows: t.available ? t.agents.map((a) => [a.agentId, String(a.placements), String(a.succeeded), String(a.failed)]) : [],
    empty: t.available && t.tasks > 0 ? 'no task was placed' : noTasks,
    ...(t.available ? more : { unavailable: notAvailable(t.reason) }),
  };
}

export function taskFailureTable(model: ReportModel): TextTable {
  const t = model.tasks;
  return {
    id: 'failed-tasks',
    title: 'Failed tasks',
    columns: ['Created', 'Task id', 'Task', 'Agent', 'Reason'],
    numeric: [],
    wrap: [4],
    rows: t.available ? t.failed.map((f) => [formatDateTime(f.createdAtMillis, model.timezone), f.id, f.task, f.agentId === '' ? '-' : f.agentId, f.reason]) : [],
    empty: t.available && t.tasks > 0 ? 'no task failed' : noTasks,
    ...(t.available ? (t.failedTotal > t.failed.length ? { note: `The newest ${t.failed.length} of ${t.failedTotal} failed tasks.` } : {}) : { unavailable: notAvailable(t.reason) }),
  };
}

export function taskWaitingTable(model: ReportModel): TextTable {
  const t = model.tasks;
  const tz = model.timezone;
  return {
    id: 'waiting-tasks',
    title: 'Tasks waiting at the period\u2019s end',
    columns: ['Created', 'Task id', 'Task', 'State now', 'Reason'],
    numeric: [],
    wrap: [4],
    rows: t.available
      ? t.waiting.map((w) => [formatDateTime(w.createdAtMillis, tz), w.id, w.task, w.state, w.placedAfter === null ? w.reason : `placed on ${w.placedAfter.agentId} at ${formatDateTime(w.placedAfter.atMillis, tz)}, after the period\u2019s end`])
      : [],
    empty: t.available && t.tasks > 0 ? 'no task was waiting' : noTasks,
    ...(t.available ? (t.waitingTotal > t.waiting.length ? { note: `The oldest ${t.waiting.length} of ${t.waitingTotal} waiting tasks.` } : {}) : { unavailable: notAvailable(t.reason) }),
  };
}

export function diskPredictionTable(model: ReportModel): TextTable {
  const tz = model.timezone;
  return {
    id: 'disk-predictions',
    title: 'Disk-full predictions of the previous period, graded',
    columns: ['Agent', 'Filesystem', 'Full in (days)', 'Predicted full', 'Outcome', 'Filled at', 'Error (days)', 'Now full in'],
    numeric: [2, 6, 7],
    rows: model.diskPredictions.map((d) => [
      d.agentId,
      d.instance === '' ? '-' : d.instance,
      d.predictedDays === null ? 'not rising' : num(d.predictedDays),
      d.predictedFullMillis === null ? '-' : formatDateTime(d.predictedFullMillis, tz),
      d.outcome,
      d.actualFullMillis === null ? '-' : formatDateTime(d.actualFullMillis, tz),
      num(d.errorDays),
      num(d.nowDaysUntilFull),
    ]),
    note: 'The capacity model fitted on the previous period alone, at this period\u2019s start: warnings (full within the warning days) are hit when the disk filled in this period, missed when their day passed without it, pending when their day is still ahead.',
  };
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
  return [
    summaryTable(model),
    remediationTallyTable(model),
    anomalousTable(model),
    agentTable(model),
    capacityTable(model),
    scalingTargetTable(model),
    scalingDecisionTable(model),
    taskSummaryTable(model),
    taskAgentTable(model),
    taskFailureTable(model),
    taskWaitingTable(model),
    remediationLogTable(model),
    incidentTable(model),
    alertNoiseTable(model),
    flappingTable(model),
    alertTable(model),
    scorecardTable(model),
    diskPredictionTable(model),
  ];
}
