export { datasource, dashboardUids, jobs, DashboardPlan } from './common.js';
export type { PanelQuery, SlothDashboard, Query, PanelOptions } from './common.js';
export { fleetOverview } from './dashboards/fleet-overview.js';
export { agentDetail } from './dashboards/agent-detail.js';
export { anomaliesForecasts } from './dashboards/anomalies-forecasts.js';
export { schedulerRemediation } from './dashboards/scheduler-remediation.js';
export { collectorDashboard } from './dashboards/collector.js';
export { buildDashboards, dashboardFiles } from './build.js';
export { asPromql, substitute, metricNames } from './promql.js';
