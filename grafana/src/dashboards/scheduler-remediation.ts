import { metricCatalogue as m } from '@sloth/core';
import { DashboardPlan, dashboardUids, quantile, sel, type SlothDashboard } from '../common.js';

const noPlaybookFailures = 'no playbook failed in the range';
const noForecastDemand = 'no forecast of a scaling target’s demand series has reached a decision yet (or no target is configured)';
const noDeadLetters = 'no notification was dead-lettered in the range';

/** Scheduler & remediation: queues, placements, scaling against demand, remediation and playbook runs, alerts. */
export function schedulerRemediation(): SlothDashboard {
  return new DashboardPlan(dashboardUids.scheduler, 'Sloth / Scheduler & remediation', 'The scheduler’s queues, task placement, predictive scaling against demand, remediation and playbook runs, and the alerts role (alerts, notifications, dead letters).')
    .annotation('Remediations', `changes(${sel(m.remediationLastRun)}[2m]) > 0`, 'blue')
    .row('Queues and placement')
    .timeseries('Queue depth', [{ expr: `sum by (queue, state) (${sel(m.schedulerQueueDepth)})`, legend: '{{queue}} {{state}}' }], {
      description: 'Jobs in each scheduler queue, by state.',
      unit: 'short',
      min: 0,
    })
    .timeseries('Placements', [{ expr: `sum by (outcome) (rate(${sel(m.schedulerPlacements)}[$__rate_interval]))`, legend: '{{outcome}}' }], {
      description: 'Tasks placed on agents per second, by outcome.',
      unit: 'short',
      min: 0,
    })
    .row('Predictive scaling')
    .timeseries(
      'Replicas against demand',
      [
        { expr: sel(m.schedulerDesiredReplicas), legend: 'replicas {{target}}' },
        { expr: sel(m.schedulerDemand), legend: 'demand {{target}}' },
        { expr: sel(m.schedulerForecastDemand), legend: 'planned demand {{target}}', expectEmpty: noForecastDemand },
      ],
      { description: 'Replicas the policy asks for, the demand it saw at each decision, and the demand (forecast p90 at the startup horizon) it planned for.', unit: 'short', min: 0 },
    )
    .timeseries('Scaling decisions', [{ expr: `sum by (direction) (increase(${sel(m.schedulerScalingDecisions)}[$__rate_interval]))`, legend: '{{direction}}' }], {
      description: 'Scaling decisions per interval: up, down or hold.',
      unit: 'short',
      min: 0,
    })
    .row('Remediation')
    .timeseries('Remediation runs', [{ expr: `sum by (playbook, outcome) (increase(${sel(m.remediationRuns)}[$__rate_interval]))`, legend: '{{playbook}} {{outcome}}' }], {
      description: 'Remediations finished per interval, by playbook and outcome.',
      unit: 'short',
      min: 0,
    })
    .timeseries(
      'Remediation failures',
      [{ expr: `sum by (playbook) (increase(${sel(m.remediationRuns, 'outcome!="succeeded"')}[$__rate_interval]))`, legend: '{{playbook}}' }],
      { description: 'Remediations that did not succeed, per interval.', unit: 'short', min: 0, thresholds: [[1, 'red']], expectEmpty: 'every remediation in the range succeeded' },
    )
    .timeseries(
      'Remediation duration',
      [
        { expr: quantile(0.5, m.remediationDuration, '', ['playbook']), legend: 'p50 {{playbook}}' },
        { expr: quantile(0.95, m.remediationDuration, '', ['playbook']), legend: 'p95 {{playbook}}' },
      ],
      { description: 'Time from admission to the final state.', unit: 's', min: 0 },
    )
    .row('Playbook runs on agents')
    .timeseries('Playbook runs', [{ expr: `sum by (name) (increase(${sel(m.agentTaskRuns, 'kind="playbook"')}[$__rate_interval]))`, legend: '{{name}}' }], {
      description: 'Playbook runs per interval on all agents.',
      unit: 'short',
      min: 0,
      width: 8,
    })
    .timeseries('Playbook failures', [{ expr: `sum by (name) (increase(${sel(m.agentTaskFailures, 'kind="playbook"')}[$__rate_interval]))`, legend: '{{name}}' }], {
      description: 'Playbook runs that failed, per interval.',
      unit: 'short',
      min: 0,
      thresholds: [[1, 'red']],
      width: 8,
      expectEmpty: noPlaybookFailures,
    })
    .timeseries('Playbook duration p95', [{ expr: quantile(0.95, m.agentTaskDuration, 'kind="playbook"', ['name']), legend: '{{name}}' }], {
      description: '95th percentile playbook run time.',
      unit: 's',
      min: 0,
      width: 8,
    })
    .row('Alerts')
    .timeseries('Alerts pending and firing', [{ expr: `sum by (rule, severity, state) (${sel(m.alertsActive)})`, legend: '{{rule}} {{severity}} {{state}}' }], {
      description: 'Alerts pending or firing now, by rule and severity (Alertmanager intake alerts included).',
      unit: 'short',
      min: 0,
      width: 8,
    })
    .timeseries('Notifications', [{ expr: `sum by (receiver, outcome) (increase(${sel(m.alertsNotifications)}[$__rate_interval]))`, legend: '{{receiver}} {{outcome}}' }], {
      description: 'Notification deliveries per interval, by receiver and outcome (sent, dead_letter, skipped).',
      unit: 'short',
      min: 0,
      width: 8,
    })
    .timeseries('Dead letters', [{ expr: `sum by (receiver, integration) (increase(${sel(m.alertsDeadLetters)}[$__rate_interval]))`, legend: '{{receiver}} {{integration}}' }], {
      description: 'Notifications given up on per interval; `sloth alerts dead-letters` lists them.',
      unit: 'short',
      min: 0,
      thresholds: [[1, 'red']],
      width: 8,
      expectEmpty: noDeadLetters,
    })
    .timeseries(
      'Rule evaluation time',
      [
        { expr: quantile(0.5, m.alertsEvaluationDuration), legend: 'p50' },
        { expr: quantile(0.95, m.alertsEvaluationDuration), legend: 'p95' },
      ],
      { description: 'Time to evaluate every rule once.', unit: 's', min: 0, width: 12 },
    )
    .stat('Last evaluation', { expr: `time() - max(${sel(m.alertsLastEvaluation)})`, instant: true }, { description: 'Seconds since the rules were last evaluated.', unit: 's', thresholds: [[120, 'red']], width: 12 })
    .build();
}
