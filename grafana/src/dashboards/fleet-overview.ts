import { metricCatalogue as m } from '@sloth/core';
import { defaultAlertMinScore, defaultIncidentScore } from '@sloth/core/live-calibration';
import { agentDetailLink, DashboardPlan, dashboardUids, jobs, rate, sel, type SlothDashboard } from '../common.js';

/** A host reports while its uptime keeps changing (every export interval), through the collector. */
const reporting = `changes(${sel(m.systemUptime)}[5m]) > 0`;
const totalCpu = sel(m.systemCpuUtilization, 'cpu=""');

/** Fleet overview: who is up, who is busiest, which series are anomalous now. */
export function fleetOverview(): SlothDashboard {
  return new DashboardPlan(dashboardUids.fleet, 'Sloth / Fleet overview', 'Every agent at a glance: reporting or silent, the busiest hosts, the most anomalous series now.')
    .row('Fleet')
    .stat('Agents reporting', { expr: `count(${reporting}) or vector(0)` }, { description: 'Agents whose metrics reached the collector in the last 5 minutes.', unit: 'none', thresholds: [] })
    .stat(
      'Agents silent',
      { expr: `count(changes(${sel(m.systemUptime)}[5m]) == 0) or vector(0)` },
      { description: 'Agents known to the collector that sent nothing for 5 minutes.', unit: 'none', thresholds: [[1, 'red']] },
    )
    .stat(
      'Agent endpoints down',
      { expr: `count(up{job="${jobs.agent}"} == 0) or vector(0)` },
      { description: 'Agent /metrics endpoints Prometheus cannot scrape (when it scrapes agents at all).', unit: 'none', thresholds: [[1, 'red']] },
    )
    .stat(
      'Anomalous series',
      { expr: `count(${sel(m.anomalyScore)} >= ${defaultIncidentScore}) or vector(0)` },
      { description: `Series whose latest anomaly score is at least ${defaultIncidentScore}, where the analytics service opens an incident (its default anomalyThreshold).`, unit: 'none', thresholds: [[1, 'orange'], [10, 'red']] },
    )
    .row('Agents')
    .table(
      'Agents',
      [
        { expr: `max by (agent) (${totalCpu})`, legend: 'CPU' },
        { expr: `max by (agent) (${sel(m.systemMemoryUtilization, 'state="used"')})`, legend: 'memory' },
        { expr: `max by (agent) (${sel(m.systemFilesystemUtilization)})`, legend: 'fullest disk' },
        { expr: `max by (agent) (${sel(m.systemCpuLoadAverage1m)})`, legend: 'load 1m' },
        { expr: `max by (agent) (${sel(m.systemUptime)})`, legend: 'uptime' },
      ],
      { description: 'One row per agent: CPU, memory and fullest filesystem (share), load and uptime. Click an agent for its detail.', unit: 'none', width: 24, link: agentDetailLink },
    )
    .timeseries('Top 10 CPU', [{ expr: `topk(10, max by (agent) (${totalCpu}))`, legend: '{{agent}}' }], {
      description: 'Busiest hosts by CPU share (all cores).',
      unit: 'percentunit',
      min: 0,
      max: 1,
      thresholds: [[0.8, 'orange'], [0.95, 'red']],
      link: agentDetailLink,
    })
    .timeseries('Top 10 memory', [{ expr: `topk(10, max by (agent) (${sel(m.systemMemoryUtilization, 'state="used"')}))`, legend: '{{agent}}' }], {
      description: 'Hosts using the largest share of their memory.',
      unit: 'percentunit',
      min: 0,
      max: 1,
      thresholds: [[0.85, 'orange'], [0.95, 'red']],
      link: agentDetailLink,
    })
    .timeseries('Top 10 disk', [{ expr: `topk(10, max by (agent, mountpoint) (${sel(m.systemFilesystemUtilization)}))`, legend: '{{agent}} {{mountpoint}}' }], {
      description: 'Fullest filesystems.',
      unit: 'percentunit',
      min: 0,
      max: 1,
      thresholds: [[0.8, 'orange'], [0.9, 'red']],
      link: agentDetailLink,
    })
    .timeseries('Top 10 network errors', [{ expr: `topk(10, sum by (agent) (${rate(m.systemNetworkErrors)}))`, legend: '{{agent}}' }], {
      description: 'Hosts with the most network errors per second (receive and transmit).',
      unit: 'short',
      min: 0,
      thresholds: [[1, 'orange']],
      link: agentDetailLink,
    })
    .row('Anomalies')
    .table('Top anomalous series now', [{ expr: `topk(10, ${sel(m.anomalyScore)})`, legend: 'score' }], {
      description: 'The ten series with the highest latest anomaly score.',
      width: 24,
      unit: 'percentunit',
      thresholds: [
        [defaultIncidentScore, 'orange'],
        [defaultAlertMinScore, 'red'],
      ],
      link: { title: 'Anomalies & forecasts', url: `/d/${dashboardUids.anomalies}/?var-agent=\${__field.labels.agent}&var-metric=\${__field.labels.metric}&\${__url_time_range}` },
    })
    .build();
}
