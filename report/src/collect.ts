import { SlothError, type QueryClient, type QueryResult, type SeriesInfo, type StepAggregation } from '@sloth/core';
import { readAlerts, readRemediations, readScaling, readTasks } from './api-sources.js';
import { keyMetricNames, keyMetrics, type Bucket, type CollectedAgent, type CollectedData, type CollectedSeries, type IncidentRecord, type KeyMetric, type Source } from './data.js';
import type { ApiEndpoint } from './http-json.js';

export interface CollectOptions {
  readonly client: QueryClient;
  /** End of the period (inclusive). */
  readonly toMillis: number;
  readonly periodMillis: number;
  /** Pixel columns a chart spans: each bucket keeps the min and max of its column. @defaultValue 400 */
  readonly columns?: number;
  /** Requests in flight at once. @defaultValue 6 */
  readonly concurrency?: number;
  /** Scheduler API for the remediation log, the scaling decisions and the tasks; absent means "not available". */
  readonly scheduler?: ApiEndpoint;
  /** Alerts API for the alert history and noise; absent means "not available". */
  readonly alerts?: ApiEndpoint;
  /** Incidents from analytics, read by the caller (e.g. from Redis); absent means "not available". */
  readonly incidents?: Source<IncidentRecord>;
  /** Called as requests finish, for a progress bar. */
  readonly onProgress?: (done: number, total: number) => void;
}

const cpuPerCoreLabels = ['cpu', 'cpu.logical_number', 'system.cpu.logical_number', 'state', 'cpu.state', 'cpu.mode', 'system.cpu.state'];

/** Which series stand for a key metric: total CPU, used memory, every filesystem. */
function selectSeries(metric: KeyMetric, series: readonly SeriesInfo[]): Array<{ info: SeriesInfo; instance: string }> {
  const out: Array<{ info: SeriesInfo; instance: string }> = [];
  for (const info of series) {
    const labels = info.labels;
    if (metric === 'cpu' && cpuPerCoreLabels.some((l) => labels[l] !== undefined)) continue;
    if (metric === 'memory' && (labels.state ?? labels['system.memory.state'] ?? 'used') !== 'used') continue;
    const instance = metric === 'disk' ? (labels.mountpoint ?? labels['system.filesystem.mountpoint'] ?? labels.device ?? labels['system.device'] ?? '') : '';
    out.push({ info, instance });
  }
  return out;
}

function unwrap<T>(result: QueryResult<T>): T {
  if (result.ok) return result.value;
  throw new SlothError(result.kind === 'unauthorized' ? 'SLOTH_ERR_AUTH' : 'SLOTH_ERR_UNREACHABLE', result.message, { details: { kind: result.kind, status: result.status, serverCode: result.code } });
}

/** Runs tasks with at most `limit` in flight, keeping their order in the results. */
async function pooled<T>(tasks: ReadonlyArray<() => Promise<T>>, limit: number, onDone: () => void): Promise<T[]> {
  const results = new Array<T>(tasks.length);
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < tasks.length) {
      const index = next++;
      results[index] = await (tasks[index] as () => Promise<T>)();
      onDone();
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, tasks.length) }, lane));
  return results;
}

/** Whole seconds, at least 10 s (the agents' usual interval): buckets never split a scrape. */
function stepFor(spanMillis: number, columns: number): number {
  return Math.max(10_000, Math.ceil(spanMillis / columns / 1_000) * 1_000);
}

/**
 * Reads everything the report needs through the collector's query API (and
 * the scheduler API when given). Expected failures of optional sources become
 * "not available"; a collector that cannot be read is an error.
 */
export async function collectReportData(options: CollectOptions): Promise<CollectedData> {
  const { client, toMillis, periodMillis } = options;
  const fromMillis = toMillis - periodMillis;
  const previousFromMillis = fromMillis - periodMillis;
  const bucketMillis = stepFor(periodMillis, options.columns ?? 400);
  const availabilityBucketMillis = Math.max(60_000, Math.ceil(periodMillis / 10_000 / 60_000) * 60_000);
  let done = 0;
  let total = 2 + keyMetrics.length;
  const tick = (): void => options.onProgress?.(++done, total);

  const agents = unwrap(await client.agents());
  tick();
  const seriesLists = await Promise.all(keyMetrics.map(async (metric) => ({ metric, list: unwrap(await client.series({ name: keyMetricNames[metric], limit: 10_000 })) })));
  for (let i = 0; i < seriesLists.length; i++) tick();
  const selected = seriesLists.flatMap(({ metric, list }) => selectSeries(metric, list).map((s) => ({ ...s, metric })));

  const buckets = async (key: string, from: number, to: number, step: number, agg: StepAggregation): Promise<Map<number, number>> => {
    const answer = await client.samples({ series: key, from, to, step, agg });
    if (!answer.ok && answer.kind === 'not-found') return new Map();
    const points = unwrap(answer).points;
    return new Map(points.filter((p) => p.v !== null).map((p) => [p.t, p.v as number]));
  };
  const merged = (min: Map<number, number>, max: Map<number, number>, avg: Map<number, number>): Bucket[] =>
    [...avg].sort((a, b) => a[0] - b[0]).map(([t, v]) => ({ t, min: min.get(t) ?? v, max: max.get(t) ?? v, avg: v }));

  const seriesTasks = selected.map(({ info, instance, metric }) => async (): Promise<CollectedSeries> => {
    const [min, max, avg, previous] = await Promise.all([
      buckets(info.key, fromMillis, toMillis, bucketMillis, 'min'),
      buckets(info.key, fromMillis, toMillis, bucketMillis, 'max'),
      buckets(info.key, fromMillis, toMillis, bucketMillis, 'avg'),
      buckets(info.key, previousFromMillis, fromMillis - 1, bucketMillis, 'avg'),
    ]);
    const previousBuckets = [...previous].sort((a, b) => a[0] - b[0]).map(([t, v]) => ({ t, min: v, max: v, avg: v }));
    return { key: info.key, agentId: info.agentId, metric, instance, current: merged(min, max, avg), previous: previousBuckets };
  });
  // Availability: buckets in which the agent's CPU (else any key metric) reported.
  const presenceSeries = new Map<string, string>();
  for (const s of selected.sort((a, b) => keyMetrics.indexOf(a.metric) - keyMetrics.indexOf(b.metric) || (a.info.key < b.info.key ? -1 : 1))) {
    if (!presenceSeries.has(s.info.agentId)) presenceSeries.set(s.info.agentId, s.info.key);
  }
  // One server-side count per period when the collector has /api/v1/query, else one request per agent.
  const cpuPresence = await presenceByAgent(client, fromMillis, toMillis - 1, previousFromMillis, availabilityBucketMillis);
  const presenceTasks = agents.map((agent) => async (): Promise<CollectedAgent> => {
    const key = presenceSeries.get(agent.id);
    const counted = cpuPresence?.get(agent.id);
    if (counted !== undefined && key?.startsWith(`${keyMetricNames.cpu}{`) === true) {
      return { id: agent.id, state: agent.state, firstSeenMillis: agent.firstSeenMillis, lastSeenMillis: agent.lastSeenMillis, presentBuckets: counted.now, presentBucketsPrevious: counted.before };
    }
    const [now, before] =
      key === undefined
        ? [new Map(), new Map()]
        : await Promise.all([
            buckets(key, fromMillis, toMillis - 1, availabilityBucketMillis, 'last'),
            buckets(key, previousFromMillis, fromMillis - 1, availabilityBucketMillis, 'last'),
          ]);
    return { id: agent.id, state: agent.state, firstSeenMillis: agent.firstSeenMillis, lastSeenMillis: agent.lastSeenMillis, presentBuckets: now.size, presentBucketsPrevious: before.size };
  });
  total += seriesTasks.length + presenceTasks.length + 1;
  const concurrency = options.concurrency ?? 6;
  const series = await pooled(seriesTasks, concurrency, tick);
  const collectedAgents = await pooled(presenceTasks, concurrency, tick);
  const noScheduler = { available: false as const, reason: 'no scheduler API given (--scheduler URL)' };
  const [remediations, scaling, tasks, alerts] = await Promise.all([
    options.scheduler === undefined ? noScheduler : readRemediations(options.scheduler),
    options.scheduler === undefined ? noScheduler : readScaling(options.scheduler),
    options.scheduler === undefined ? noScheduler : readTasks(options.scheduler),
    options.alerts === undefined ? { available: false as const, reason: 'no alerts API given (--alerts-url URL)' } : readAlerts(options.alerts),
  ]);
  tick();

  return {
    collector: client.origin,
    fromMillis,
    toMillis,
    previousFromMillis,
    bucketMillis,
    availabilityBucketMillis,
    agents: collectedAgents,
    series,
    incidents: options.incidents ?? { available: false, reason: 'no analytics incident source given (--redis-url)' },
    remediations,
    alerts,
    scaling,
    tasks,
  };
}

/**
 * Availability buckets with CPU data per agent, this period and the previous
 * one, counted by the collector (`GET /api/v1/query?agg=count&by=agent`);
 * undefined when the collector has no such route.
 */
async function presenceByAgent(client: QueryClient, fromMillis: number, toMillis: number, previousFromMillis: number, stepMillis: number): Promise<Map<string, { now: number; before: number }> | undefined> {
  const ask = async (from: number, to: number) => await client.aggregate({ name: keyMetricNames.cpu, agg: 'count', by: ['agent'], from, to, step: stepMillis });
  const [now, before] = await Promise.all([ask(fromMillis, toMillis), ask(previousFromMillis, fromMillis - 1)]);
  if (!now.ok || !before.ok) {
    if ((!now.ok && now.kind === 'not-found') || (!before.ok && before.kind === 'not-found')) return undefined;
    unwrap(now);
    unwrap(before);
    return undefined;
  }
  const counts = new Map<string, { now: number; before: number }>();
  for (const g of now.value.groups) counts.set(g.labels.agent ?? '', { now: g.points.length, before: 0 });
  for (const g of before.value.groups) {
    const agent = g.labels.agent ?? '';
    counts.set(agent, { now: counts.get(agent)?.now ?? 0, before: g.points.length });
  }
  return counts;
}
