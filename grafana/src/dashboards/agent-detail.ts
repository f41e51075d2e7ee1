import { metricCatalogue as m } from '@sloth/core';
import { DashboardPlan, dashboardUids, quantile, rate, sel, type SlothDashboard } from '../common.js';

const a = 'agent="$agent"';
const cores = `count(${sel(m.systemCpuUtilization, `${a}, cpu!=""`)})`;
const noChecks = 'the agent runs no health checks unless configured';
const noRuns = 'no task or playbook has run on the agent in the range';

/** Agent detail, node-mixin style: uptime, CPU, memory, disk, network, then Sloth's own checks and runs, and a USE row. */
export function agentDetail(): SlothDashboard {
  return new DashboardPlan(dashboardUids.agent, 'Sloth / Agent detail', 'One host as its agent reports it: resources (USE), health checks, tasks and playbook runs, and the agent’s export path.')
    .variable('agent', 'agent', m.systemUptime)
    .row('Overview')
    .stat('Uptime', { expr: sel(m.systemUptime, a) }, { description: 'Time since the host booted.', unit: 's', thresholds: [] })
    .stat('CPU cores', { expr: cores }, { description: 'Logical CPUs the agent reports.', unit: 'none', thresholds: [] })
    .stat('Memory', { expr: sel(m.systemMemoryLimit, a) }, { description: 'Physical memory of the host.', unit: 'bytes', thresholds: [] })
    .stat('Health', { expr: sel(m.agentHealth, a) }, { description: 'Worst of the agent’s health checks: 1 healthy, 0 unhealthy, -1 unknown.', unit: 'none', thresholds: [[-1, 'gray'], [0, 'red'], [1, 'green']], expectEmpty: noChecks })
    .row('CPU')
    .timeseries('CPU per core', [{ expr: sel(m.systemCpuUtilization, `${a}, cpu!=""`), legend: 'cpu {{cpu}}' }], {
      description: 'Busy share of each core.',
      unit: 'percentunit',
      min: 0,
      max: 1,
      thresholds: [[0.9, 'red']],
    })
    .timeseries(
      'Load average',
      [
        { expr: sel(m.systemCpuLoadAverage1m, a), legend: '1m' },
        { expr: sel(m.systemCpuLoadAverage5m, a), legend: '5m' },
        { expr: sel(m.systemCpuLoadAverage15m, a), legend: '15m' },
        { expr: cores, legend: 'cores' },
      ],
      { description: 'Run-queue length; above the number of cores, work waits.', unit: 'short', min: 0 },
    )
    .row('Memory')
    .timeseries('Memory by state', [{ expr: sel(m.systemMemoryUsage, a), legend: '{{state}}' }], { description: 'Used, free, buffers and cached memory.', unit: 'bytes', min: 0, stacked: true })
    .timeseries(
      'Memory and swap used',
      [
        { expr: sel(m.systemMemoryUtilization, `${a}, state="used"`), legend: 'memory' },
        { expr: sel(m.systemPagingUtilization, `${a}, state="used"`), legend: 'swap' },
      ],
      { description: 'Share of memory and of swap in use.', unit: 'percentunit', min: 0, max: 1, thresholds: [[0.85, 'orange'], [0.95, 'red']] },
    )
    .row('Disk')
    .timeseries('Disk I/O', [{ expr: rate(m.systemDiskIo, a), legend: '{{device}} {{direction}}' }], { description: 'Bytes read and written per second, per device.', unit: 'Bps', min: 0, width: 8 })
    .timeseries('Disk operations', [{ expr: rate(m.systemDiskOperations, a), legend: '{{device}} {{direction}}' }], { description: 'Read and write operations per second, per device.', unit: 'iops', min: 0, width: 8 })
    .timeseries('Filesystem used', [{ expr: sel(m.systemFilesystemUtilization, a), legend: '{{mountpoint}}' }], {
      description: 'Share of each filesystem in use.',
      unit: 'percentunit',
      min: 0,
      max: 1,
      thresholds: [[0.8, 'orange'], [0.9, 'red']],
      width: 8,
    })
    .row('Network')
    .timeseries('Network traffic', [{ expr: `${rate(m.systemNetworkIo, a)} * 8`, legend: '{{device}} {{direction}}' }], { description: 'Bits per second received and transmitted, per interface.', unit: 'bps', width: 8 })
    .timeseries('Network errors', [{ expr: rate(m.systemNetworkErrors, a), legend: '{{device}} {{direction}}' }], { description: 'Errors per second, per interface.', unit: 'short', min: 0, thresholds: [[1, 'red']], width: 8 })
    .timeseries('Network drops', [{ expr: rate(m.systemNetworkDropped, a), legend: '{{device}} {{direction}}' }], { description: 'Packets dropped per second, per interface.', unit: 'pps', min: 0, thresholds: [[1, 'orange']], width: 8 })
    .row('Health checks, tasks and playbooks')
    .timeseries('Health checks', [{ expr: sel(m.agentCheckStatus, a), legend: '{{check}}' }], { description: 'Each check: 1 healthy, 0 unhealthy, -1 unknown.', unit: 'none', min: -1, max: 1, width: 8, expectEmpty: noChecks })
    .timeseries('Task and playbook runs', [{ expr: `sum by (kind, name) (increase(${sel(m.agentTaskRuns, a)}[$__rate_interval]))`, legend: '{{kind}} {{name}}' }], {
      description: 'Runs per interval, by kind and name.',
      unit: 'short',
      min: 0,
      width: 8,
      expectEmpty: noRuns,
    })
    .timeseries(
      'Run failures and p95 duration',
      [
        { expr: `sum by (kind, name) (increase(${sel(m.agentTaskFailures, a)}[$__rate_interval]))`, legend: 'failures {{kind}} {{name}}' },
        { expr: quantile(0.95, m.agentTaskDuration, a, ['kind', 'name']), legend: 'p95 s {{kind}} {{name}}' },
      ],
      { description: 'Failed runs per interval, and the 95th percentile run time in seconds.', unit: 'short', min: 0, width: 8, expectEmpty: noRuns },
    )
    .row('USE: utilisation, saturation, errors')
    .timeseries(
      'Utilisation',
      [
        { expr: sel(m.systemCpuUtilization, `${a}, cpu=""`), legend: 'CPU' },
        { expr: sel(m.systemMemoryUtilization, `${a}, state="used"`), legend: 'memory' },
        { expr: `max(${sel(m.systemFilesystemUtilization, a)})`, legend: 'fullest filesystem' },
      ],
      { description: 'Share in use of CPU, memory and the fullest filesystem.', unit: 'percentunit', min: 0, max: 1, thresholds: [[0.8, 'orange'], [0.95, 'red']], width: 8 },
    )
    .timeseries(
      'Saturation',
      [
        { expr: `${sel(m.systemCpuLoadAverage1m, a)} / scalar(${cores})`, legend: 'load per core' },
        { expr: sel(m.systemPagingUtilization, `${a}, state="used"`), legend: 'swap used' },
        { expr: sel(m.agentExportQueueBatches, a), legend: 'export batches queued' },
      ],
      { description: 'Work that waits: load per core (above 1 saturates), swap in use, telemetry queued in the agent.', unit: 'short', min: 0, thresholds: [[1, 'red']], width: 8 },
    )
    .timeseries(
      'Errors',
      [
        { expr: `sum(${rate(m.systemNetworkErrors, a)})`, legend: 'network errors/s' },
        { expr: `sum(${rate(m.systemNetworkDropped, a)})`, legend: 'network drops/s' },
        { expr: `${rate(m.agentExportRejected, a)} + ${rate(m.agentExportDropped, a)}`, legend: 'export batches lost/s' },
      ],
      { description: 'Network errors and drops, and telemetry batches the collector refused or the spool dropped.', unit: 'short', min: 0, thresholds: [[0.01, 'red']], width: 8 },
    )
    .row('Export to the collector')
    .timeseries('Export queue', [{ expr: sel(m.agentExportQueueSize, a), legend: 'queued bytes' }], { description: 'Telemetry waiting in memory and the disk spool.', unit: 'bytes', min: 0 })
    .timeseries(
      'Export batches',
      [
        { expr: rate(m.agentExportSent, a), legend: 'sent' },
        { expr: rate(m.agentExportRetries, a), legend: 'retries' },
      ],
      { description: 'Batches delivered and retried per second.', unit: 'short', min: 0 },
    )
    .build();
}
