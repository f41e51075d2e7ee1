import type { SlothDashboard } from './common.js';
import { agentDetail } from './dashboards/agent-detail.js';
import { anomaliesForecasts } from './dashboards/anomalies-forecasts.js';
import { collectorDashboard } from './dashboards/collector.js';
import { fleetOverview } from './dashboards/fleet-overview.js';
import { schedulerRemediation } from './dashboards/scheduler-remediation.js';

/** Every Sloth dashboard, in menu order. */
export function buildDashboards(): SlothDashboard[] {
  return [fleetOverview(), agentDetail(), anomaliesForecasts(), schedulerRemediation(), collectorDashboard()];
}

/** File name → JSON text of each dashboard, as committed under grafana/dashboards. */
export function dashboardFiles(): Map<string, string> {
  const files = new Map<string, string>();
  for (const d of buildDashboards()) files.set(`${d.uid}.json`, `${JSON.stringify(d.json, null, 2)}\n`);
  return files;
}
