import { parseDurationMillis } from './duration.js';
import { matchesAll, parseMatcher, type AlertLabels, type Matcher } from './labels.js';
import type { RouteSpec } from './rules-schema.js';
import type { TimeInterval } from './time-intervals.js';

/** A node of the route tree, with its parent's settings inherited. */
export interface Route {
  /** Position in the tree (`0`, `0.1`, `0.1.0`), part of every group key. */
  readonly id: string;
  readonly receiver: string;
  readonly matchers: readonly Matcher[];
  /** `['...']` groups by every label. */
  readonly groupBy: readonly string[];
  readonly groupWaitMillis: number;
  readonly groupIntervalMillis: number;
  readonly repeatIntervalMillis: number;
  readonly continue: boolean;
  readonly muteTimeIntervals: readonly string[];
  readonly activeTimeIntervals: readonly string[];
  readonly routes: readonly Route[];
}

const defaults = { groupWaitMillis: 30_000, groupIntervalMillis: 300_000, repeatIntervalMillis: 4 * 3_600_000 };

/** Compiles the route tree; `problem` collects errors (path, message) instead of stopping at the first. */
export function compileRoute(spec: RouteSpec, problem: (path: string, message: string) => void, parent?: Route, id = '0', path = 'route'): Route {
  const duration = (value: string | number | undefined, key: string, inherited: number): number => {
    if (value === undefined) return inherited;
    try {
      return parseDurationMillis(value, `${path}.${key}`);
    } catch (error) {
      problem(`${path}.${key}`, (error as Error).message);
      return inherited;
    }
  };
  const matchers: Matcher[] = [];
  (spec.matchers ?? []).forEach((text, i) => {
    try {
      matchers.push(parseMatcher(text));
    } catch (error) {
      problem(`${path}.matchers[${i}]`, (error as Error).message);
    }
  });
  const receiver = spec.receiver ?? parent?.receiver;
  if (receiver === undefined) problem(`${path}.receiver`, 'the root route needs a receiver');
  const children: Route[] = [];
  const route: Route = {
    id,
    receiver: receiver ?? '',
    matchers,
    groupBy: spec.group_by ?? parent?.groupBy ?? ['alertname'],
    groupWaitMillis: duration(spec.group_wait, 'group_wait', parent?.groupWaitMillis ?? defaults.groupWaitMillis),
    groupIntervalMillis: duration(spec.group_interval, 'group_interval', parent?.groupIntervalMillis ?? defaults.groupIntervalMillis),
    repeatIntervalMillis: duration(spec.repeat_interval, 'repeat_interval', parent?.repeatIntervalMillis ?? defaults.repeatIntervalMillis),
    continue: spec.continue ?? false,
    // Alertmanager does not inherit time intervals: each route names its own.
    muteTimeIntervals: spec.mute_time_intervals ?? [],
    activeTimeIntervals: spec.active_time_intervals ?? [],
    routes: children,
  };
  (spec.routes ?? []).forEach((child, i) => children.push(compileRoute(child, problem, route, `${id}.${i}`, `${path}.routes[${i}]`)));
  return route;
}

/**
 * The routes an alert goes to, depth first as in Alertmanager: the deepest
 * matching child wins, siblings after a match are tried only with `continue`,
 * and a node whose children all miss takes the alert itself.
 */
export function matchRoutes(root: Route, labels: AlertLabels): Route[] {
  const found: Route[] = [];
  visit(root, labels, found);
  return found;
}

function visit(route: Route, labels: AlertLabels, found: Route[]): boolean {
  if (!matchesAll(route.matchers, labels)) return false;
  let matchedChild = false;
  for (const child of route.routes) {
    if (visit(child, labels, found)) {
      matchedChild = true;
      if (!child.continue) break;
    }
  }
  if (!matchedChild) found.push(route);
  return true;
}

/** Group labels of an alert on a route (`group_by`, or all labels for `...`). */
export function groupLabels(route: Route, labels: AlertLabels): Record<string, string> {
  if (route.groupBy.includes('...')) return { ...labels };
  const out: Record<string, string> = {};
  for (const name of route.groupBy) {
    const value = labels[name];
    if (value !== undefined) out[name] = value;
  }
  return out;
}

/** `routeId:[["name","value"],…]` with names sorted (stored in the notification log: the format must not change). Built as text, without the entry arrays. */
export function groupKey(route: Route, group: Readonly<Record<string, string>>): string {
  const names = Object.keys(group);
  if (names.length > 1) names.sort();
  let key = `${route.id}:[`;
  for (let i = 0; i < names.length; i += 1) {
    const name = names[i] as string;
    key += `${i === 0 ? '' : ','}[${JSON.stringify(name)},${JSON.stringify(group[name])}]`;
  }
  return `${key}]`;
}

/** Whether notifications of this route are held at `atMillis` (a mute interval, or outside every active interval). */
export function routeMutedAt(route: Route, intervals: ReadonlyMap<string, TimeInterval>, atMillis: number): string | undefined {
  for (const name of route.muteTimeIntervals) if (intervals.get(name)?.contains(atMillis) === true) return `mute time interval ${name}`;
  if (route.activeTimeIntervals.length > 0 && !route.activeTimeIntervals.some((name) => intervals.get(name)?.contains(atMillis) === true)) {
    return `outside active time intervals ${route.activeTimeIntervals.join(', ')}`;
  }
  return undefined;
}

export function* walkRoutes(route: Route): Generator<Route> {
  yield route;
  for (const child of route.routes) yield* walkRoutes(child);
}
