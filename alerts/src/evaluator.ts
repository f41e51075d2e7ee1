import { parseSeriesId, type LatestPoint, type QueryResult } from '@sloth/core';
import type { CompiledRule } from './alerts-file.js';
import { matchesAll, type AlertLabels } from './labels.js';
import type { Evaluation, InstanceState, Observation } from './lifecycle.js';
import type { SignalStore } from './signals.js';

/** Current values of series: the collector's query API (core's `QueryClient` fits). */
export interface CurrentValues {
  latest(filter: { name?: string; agent?: string }): Promise<QueryResult<LatestPoint[]>>;
}

type Comparison = '>' | '>=' | '<' | '<=';

export function compare(value: number, op: Comparison, level: number): boolean {
  switch (op) {
    case '>':
      return value > level;
    case '>=':
      return value >= level;
    case '<':
      return value < level;
    case '<=':
      return value <= level;
  }
}

/**
 * Turns what the sources say into observations for one rule. Threshold,
 * forecast guards and series absence read the collector; anomaly, forecast
 * and agent-down rules read what the streams delivered.
 */
export class RuleEvaluator {
  private readonly signals: SignalStore;
  private readonly values: CurrentValues | undefined;
  /** Per absence rule: since when its metric has had no series at all (seen by this process). */
  private readonly noSeriesSince = new Map<string, number>();

  constructor(signals: SignalStore, values: CurrentValues | undefined) {
    this.signals = signals;
    this.values = values;
  }

  async evaluate(rule: CompiledRule, nowMillis: number, stateOf: (key: string) => InstanceState): Promise<Evaluation> {
    const spec = rule.spec;
    switch (spec.type) {
      case 'threshold': {
        const points = await this.points(rule);
        if (!points.ok) return { kind: 'error', message: points.message };
        // One pass, no intermediate array: this runs over every series of the metric (100,000 in the benchmark).
        const observations: Observation[] = [];
        for (const p of points.value) {
          const v = p.v;
          if (v === null || nowMillis - p.t > rule.windowMillis) continue;
          const held = spec.recover !== undefined && stateOf(p.key) !== 'inactive';
          observations.push({ key: p.key, labels: p.labels, agentId: p.agentId, active: compare(v, spec.op, held ? (spec.recover as number) : spec.threshold), value: v });
        }
        if (observations.length === 0) return { kind: 'nodata' };
        return { kind: 'ok', observations };
      }
      case 'absence':
        return spec.agent_down ? this.agentsDown(rule) : this.silentSeries(rule, nowMillis);
      case 'anomaly':
        return this.anomalies(rule, nowMillis, stateOf);
      case 'forecast':
        return this.forecastsOf(rule, nowMillis);
    }
  }

  private async points(rule: CompiledRule): Promise<QueryResult<LatestPoint[]>> {
    if (this.values === undefined) {
      return { ok: false, kind: 'unreachable', code: 'SLOTH_ERR_CONFIG', message: 'no collector is configured (alerts.collectorUrl / --collector)', details: {}, retryable: false };
    }
    const metric = rule.spec.type === 'anomaly' ? undefined : rule.spec.metric;
    const result = await this.values.latest({ name: metric });
    if (!result.ok) return result;
    const agent = rule.agent;
    if (agent === undefined && rule.matchers.length === 0) return result;
    return { ok: true, value: result.value.filter((p) => (agent === undefined || agent.test(p.agentId)) && matchesAll(rule.matchers, p.labels)) };
  }

  private agentsDown(rule: CompiledRule): Evaluation {
    const observations: Observation[] = [];
    for (const [agentId] of this.signals.downAgents) {
      if (rule.agent !== undefined && !rule.agent.test(agentId)) continue;
      observations.push({ key: agentId, labels: { agent: agentId }, active: true });
    }
    return { kind: 'ok', observations };
  }

  private async silentSeries(rule: CompiledRule, nowMillis: number): Promise<Evaluation> {
    const points = await this.points(rule);
    if (!points.ok) return { kind: 'error', message: points.message };
    // No series at all is the strongest absence: one alert for the rule, once it has lasted silent_for. A role
    // that has just started (or a stack whose agents send their first metrics in a few seconds) is not "silent
    // for 10 minutes": the absence is timed from the first evaluation that saw no series.
    if (points.value.length === 0) {
      const since = this.noSeriesSince.get(rule.name) ?? nowMillis;
      this.noSeriesSince.set(rule.name, since);
      return { kind: 'ok', observations: [{ key: '__absent__', labels: {}, active: nowMillis - since >= rule.windowMillis, value: (nowMillis - since) / 1000 }] };
    }
    this.noSeriesSince.delete(rule.name);
    return {
      kind: 'ok',
      observations: points.value.map((p) => ({ key: p.key, labels: p.labels, agentId: p.agentId, active: nowMillis - p.t > rule.windowMillis, value: (nowMillis - p.t) / 1000 })),
    };
  }

  private anomalies(rule: CompiledRule, nowMillis: number, stateOf: (key: string) => InstanceState): Evaluation {
    if (rule.spec.type !== 'anomaly') throw new Error('not an anomaly rule');
    const spec = rule.spec;
    if (nowMillis - this.signals.lastAnalyticsMillis > rule.quietMillis) return { kind: 'nodata' };
    // One alert per series: several incidents of a series (an old one never closed, a new one) merge.
    const bySeries = new Map<string, Observation>();
    for (const incident of this.signals.incidents.values()) {
      if (!rule.metric.test(incident.metric) || (rule.agent !== undefined && !rule.agent.test(incident.agentId))) continue;
      const open = !incident.resolved && (incident.stateful || nowMillis - incident.lastSeenMillis <= rule.windowMillis);
      const active =
        open &&
        incident.peakScore >= spec.min_score &&
        (spec.direction === 'any' || incident.direction === spec.direction) &&
        // min_duration gates the start only: an incident seen anew (the role restarted mid-incident) keeps its firing alert.
        (incident.lastSeenMillis - incident.firstSeenMillis >= rule.horizonMillis || stateOf(incident.seriesId) === 'firing');
      const known = bySeries.get(incident.seriesId);
      if (known !== undefined && (known.active || !active)) continue;
      bySeries.set(incident.seriesId, {
        key: incident.seriesId,
        labels: { ...seriesLabels(incident.labels, incident.agentId), metric: incident.metric, direction: incident.direction },
        active,
        value: incident.value,
        expectedLow: incident.expectedLow ?? undefined,
        expectedHigh: incident.expectedHigh ?? undefined,
      });
    }
    return { kind: 'ok', observations: [...bySeries.values()] };
  }

  private async forecastsOf(rule: CompiledRule, nowMillis: number): Promise<Evaluation> {
    if (rule.spec.type !== 'forecast') throw new Error('not a forecast rule');
    const spec = rule.spec;
    const candidates = [...this.signals.forecasts.values()].filter(
      (f) => nowMillis - f.issuedAtMillis <= rule.windowMillis && rule.metric.test(f.metric) && (rule.agent === undefined || rule.agent.test(f.agentId)),
    );
    let guard: Map<string, number> | undefined;
    if (spec.guard !== undefined) {
      const points = await this.points(rule);
      if (!points.ok) return { kind: 'error', message: `current-level guard: ${points.message}` };
      guard = new Map(points.value.filter((p) => p.v !== null).map((p) => [p.key, p.v as number]));
    }
    const observations: Observation[] = [];
    for (const forecast of candidates) {
      let labels: AlertLabels;
      try {
        labels = seriesLabels(parseSeriesId(forecast.seriesId).labels, forecast.agentId);
      } catch {
        labels = { agent: forecast.agentId };
      }
      if (!matchesAll(rule.matchers, labels)) continue;
      const deadline = forecast.issuedAtMillis + rule.horizonMillis;
      const breach = forecast.points.find((p) => p.timestampMillis <= deadline && compare(p[spec.quantile], spec.op, spec.threshold));
      const current = guard?.get(forecast.seriesId);
      const guarded = spec.guard === undefined || (current !== undefined && compare(current, spec.guard.op, spec.guard.threshold));
      observations.push({ key: forecast.seriesId, labels: { ...labels, metric: forecast.metric }, active: breach !== undefined && guarded, value: breach?.[spec.quantile] ?? current });
    }
    // No forecast for this rule is no data only once analytics as a whole went quiet: new series have none yet.
    if (observations.length === 0 && nowMillis - this.signals.lastAnalyticsMillis > rule.windowMillis) return { kind: 'nodata' };
    return { kind: 'ok', observations };
  }
}

/** Series labels plus the agent, the label every Sloth alert carries. */
function seriesLabels(labels: Readonly<Record<string, string>>, agentId: string): AlertLabels {
  return agentId === '' ? labels : { ...labels, agent: agentId };
}
