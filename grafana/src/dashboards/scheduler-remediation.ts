import { metricCatalogue as m } from '@sloth/core';
import { DashboardPlan, dashboardUids, plannedReason, quantile, sel, type SlothDashboard } from '../common.js';

const noPlaybookRuns = 'no playbook has run in the range';

/** Scheduler & remediation: queues, placements, scaling against demand, remediation and playbook runs. */
export function schedulerRemediation(): SlothDashboard {
  return new DashboardPlan(dashboardUids.scheduler, 'Sloth / Scheduler & remediation', 'The scheduler’s queues, task placement, predictive scaling against demand, and remediation and playbook runs.')
    .annotation('Remediations', `changes(${sel(m.remediationLastRun)}[2m]) > 0`, 'blue', plannedReason(m.remediationLastRun))
    .row('Queues and placement')
    .timeseries('Queue depth', [{ expr: `sum by (queue, state) (${sel(m.schedulerQueueDepth)})`, legend: '{{queue}} {{state}}' }], {
      description: 'Jobs in each scheduler queue, by state.',
      unit: 'short',
      min: 0,
      expectEmpty: plannedReason(m.schedulerQueueDepth),
    })
    .timeseries('Placements', [{ expr: `sum by (outcome) (rate(${sel(m.schedulerPlacements)}[$__rate_interval]))`, legend: '{{outcome}}' }], {
      description: 'Tasks placed on agents per second, by outcome.',
      unit: 'short',
      min: 0,
      expectEmpty: plannedReason(m.schedulerPlacements),
    })
    .row('Predictive scaling')
    .timeseries(
      'Replicas against demand',
      [
        { expr: sel(m.schedulerDesiredReplicas), legend: 'replicas {{target}}' },
        { expr: sel(m.schedulerForecastDemand), legend: 'planned demand {{target}}' },
      ],
      { description: 'Replicas the policy asks for, and the demand (forecast p90 at the startup horizon) it planned for.', unit: 'short', min: 0, expectEmpty: plannedReason(m.schedulerDesiredReplicas, m.schedulerForecastDemand) },
    )
    .timeseries('Scaling decisions', [{ expr: `sum by (direction) (increase(${sel(m.schedulerScalingDecisions)}[$__rate_interval]))`, legend: '{{direction}}' }], {
      description: 'Scaling decisions per interval: up, down or hold.',
      unit: 'short',
      min: 0,
      expectEmpty: plannedReason(m.schedulerScalingDecisions),
    })
    .row('Remediation')
    .timeseries('Remediation runs', [{ expr: `sum by (playbook, outcome) (increase(${sel(m.remediationRuns)}[$__rate_interval]))`, legend: '{{playbook}} {{outcome}}' }], {
      description: 'Remediations finished per interval, by playbook and outcome.',
      unit: 'short',
      min: 0,
      expectEmpty: plannedReason(m.remediationRuns),
    })
    .timeseries(
      'Remediation failures',
      [{ expr: `sum by (playbook) (increase(${sel(m.remediationRuns, 'outcome!="succeeded"')}[$__rate_interval]))`, legend: '{{playbook}}' }],
      { description: 'Remediations that did not succeed, per interval.', unit: 'short', min: 0, thresholds: [[1, 'red']], expectEmpty: plannedReason(m.remediationRuns) },
    )
    .timeseries(
      'Remediation duration',
      [
        { expr: quantile(0.5, m.remediationDuration, '', ['playbook']), legend: 'p50 {{playbook}}' },
        { expr: quantile(0.95, m.remediationDuration, '', ['playbook']), legend: 'p95 {{playbook}}' },
      ],
      { description: 'Time from trigger to result.', unit: 's', min: 0, expectEmpty: plannedReason(m.remediationDuration) },
    )
    .row('Playbook runs on agents')
    .timeseries('Playbook runs', [{ expr: `sum by (name) (increase(${sel(m.agentTaskRuns, 'kind="playbook"')}[$__rate_interval]))`, legend: '{{name}}' }], {
      description: 'Playbook runs per interval on all agents.',
      unit: 'short',
      min: 0,
      width: 8,
      expectEmpty: noPlaybookRuns,
    })
    .timeseries('Playbook failures', [{ expr: `sum by (name) (increase(${sel(m.agentTaskFailures, 'kind="playbook"')}[$__rate_interval]))`, legend: '{{name}}' }], {
      description: 'Playbook runs that failed, per interval.',
      unit: 'short',
      min: 0,
      thresholds: [[1, 'red']],
      width: 8,
      expectEmpty: noPlaybookRuns,
    })
    .timeseries('Playbook duration p95', [{ expr: quantile(0.95, m.agentTaskDuration, 'kind="playbook"', ['name']), legend: '{{name}}' }], {
      description: '95th percentile playbook run time.',
      unit: 's',
      min: 0,
      width: 8,
      expectEmpty: noPlaybookRuns,
    })
    .build();
}
