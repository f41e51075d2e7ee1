import type { AlertsFile } from './alerts-file.js';
import type { AlertLabels } from './labels.js';
import { groupLabels, matchRoutes, routeMutedAt } from './routing.js';

/** Where an alert with these labels would go at `atMillis` (`sloth alerts routes test`). */
export interface RouteTestResult {
  receiver: string;
  route: string;
  groupBy: readonly string[];
  groupLabels: Record<string, string>;
  groupWaitMillis: number;
  groupIntervalMillis: number;
  repeatIntervalMillis: number;
  /** Why notifications would be held at that time (a time interval), if they would. */
  mutedBy: string | undefined;
}

export function testRoutes(file: AlertsFile, labels: AlertLabels, atMillis: number): RouteTestResult[] {
  return matchRoutes(file.route, labels).map((route) => ({
    receiver: route.receiver,
    route: route.id,
    groupBy: route.groupBy,
    groupLabels: groupLabels(route, labels),
    groupWaitMillis: route.groupWaitMillis,
    groupIntervalMillis: route.groupIntervalMillis,
    repeatIntervalMillis: route.repeatIntervalMillis,
    mutedBy: routeMutedAt(route, file.timeIntervals, atMillis),
  }));
}
