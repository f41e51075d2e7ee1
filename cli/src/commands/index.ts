import type { Command } from 'commander';
import { registerForecast } from './forecast.js';
import { registerBenchForecast } from './bench-forecast.js';
import { registerAnalytics } from './analytics.js';
import { registerCollector } from './collector.js';
import { registerAgent } from './agent.js';
import { registerUp } from './up.js';
import { registerScheduler } from './scheduler.js';
import { registerRemediation } from './remediation.js';
import { registerStatus } from './status.js';
import { registerReport } from './report.js';
import { registerDetect } from './detect.js';
import { registerBenchNab } from './bench-nab.js';
import { registerPlaybook } from './playbook.js';
import { registerScale } from './scale.js';
import { registerTask } from './task.js';
import { registerDashboards } from './dashboards.js';
import { registerAlerts } from './alerts.js';

/** Every sub-command registers itself here, one module per command. */
export const commands: Array<(program: Command) => void> = [
  registerUp,
  registerCollector,
  registerAgent,
  registerAnalytics,
  registerScheduler,
  registerAlerts,
  registerStatus,
  registerReport,
  registerRemediation,
  registerPlaybook,
  registerScale,
  registerTask,
  registerDashboards,
  registerDetect,
  registerForecast,
  registerBenchNab,
  registerBenchForecast,
];
