import type { Redis } from 'ioredis';
import type { RedisKeys } from '@sloth/core';
import type { Alert } from './alert.js';
import type { CompiledRule } from './alerts-file.js';
import { compare, type CurrentValues } from './evaluator.js';

/** One forecast alert, waiting to learn whether the breach it predicted happened. */
interface Prediction {
  readonly rule: string;
  readonly metric: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly firedAtMillis: number;
  readonly deadlineMillis: number;
}

/** The outcome of one prediction. */
export interface Grade {
  readonly rule: string;
  readonly agent: string | undefined;
  readonly firedAtMillis: number;
  readonly hit: boolean;
  /** Time from the alert to the breach it predicted (hits only). */
  readonly leadMillis: number | undefined;
}

export interface RuleScore {
  readonly rule: string;
  readonly predictions: number;
  readonly hits: number;
  /** hits / graded predictions; null before any is graded. */
  readonly precision: number | null;
  readonly medianLeadMillis: number | null;
  readonly pending: number;
}

/**
 * Grades forecast rules: every time one fires, it predicts that its series
 * crosses the threshold within `within`. The actual value (collector) decides:
 * a crossing before the deadline is a hit with its lead time, none is a miss.
 */
export class ForecastGrader {
  private readonly pending: Prediction[] = [];
  private readonly grades: Grade[] = [];
  private readonly values: CurrentValues | undefined;
  private readonly redis: Redis | undefined;
  private readonly key: string;

  constructor(options: { values?: CurrentValues | undefined; redis?: Redis | undefined; keys?: RedisKeys | undefined }) {
    this.values = options.values;
    this.redis = options.redis;
    this.key = options.keys?.key('alerts', 'forecast-grades') ?? 'alerts:forecast-grades';
  }

  /** Reads the grades kept in Redis (they survive restarts). */
  async load(): Promise<void> {
    if (this.redis === undefined) return;
    for (const text of await this.redis.lrange(this.key, 0, 9999)) this.grades.push(JSON.parse(text) as Grade);
  }

  /** A forecast rule's alert started firing. */
  predicted(rule: CompiledRule, alert: Alert): void {
    if (rule.spec.type !== 'forecast' || alert.labels.alertname !== rule.name) return;
    this.pending.push({ rule: rule.name, metric: rule.spec.metric, labels: alert.labels, firedAtMillis: alert.startsAtMillis, deadlineMillis: alert.startsAtMillis + rule.horizonMillis });
  }

  /** Checks pending predictions against the current values. */
  async grade(rules: readonly CompiledRule[], nowMillis: number): Promise<void> {
    if (this.pending.length === 0) return;
    const byName = new Map(rules.map((r) => [r.name, r]));
    const metrics = [...new Set(this.pending.map((p) => p.metric))];
    const latest = new Map<string, Array<{ agentId: string; labels: Readonly<Record<string, string>>; t: number; v: number | null }>>();
    if (this.values !== undefined) {
      for (const metric of metrics) {
        const result = await this.values.latest({ name: metric });
        if (result.ok) latest.set(metric, result.value);
      }
    }
    const done: Grade[] = [];
    for (let i = this.pending.length - 1; i >= 0; i -= 1) {
      const p = this.pending[i] as Prediction;
      const spec = byName.get(p.rule)?.spec;
      const point = latest.get(p.metric)?.find((x) => x.agentId === p.labels.agent && Object.entries(x.labels).every(([k, v]) => p.labels[k] === v));
      const breached = spec?.type === 'forecast' && point !== undefined && point.v !== null && point.t <= p.deadlineMillis && compare(point.v, spec.op, spec.threshold);
      if (breached || nowMillis > p.deadlineMillis || spec === undefined) {
        done.push({ rule: p.rule, agent: p.labels.agent, firedAtMillis: p.firedAtMillis, hit: breached, leadMillis: breached ? Math.max(0, (point?.t ?? nowMillis) - p.firedAtMillis) : undefined });
        this.pending.splice(i, 1);
      }
    }
    this.grades.push(...done);
    if (this.redis !== undefined && done.length > 0) {
      await this.redis.multi().rpush(this.key, ...done.map((g) => JSON.stringify(g))).ltrim(this.key, -10_000, -1).exec();
    }
  }

  /** Precision and median lead time per forecast rule. */
  scores(): RuleScore[] {
    const rules = new Set([...this.grades.map((g) => g.rule), ...this.pending.map((p) => p.rule)]);
    return [...rules].sort().map((rule) => {
      const graded = this.grades.filter((g) => g.rule === rule);
      const leads = graded.filter((g) => g.hit).map((g) => g.leadMillis as number).sort((a, b) => a - b);
      const hits = leads.length;
      const mid = leads.length === 0 ? null : leads.length % 2 === 1 ? (leads[(leads.length - 1) / 2] as number) : ((leads[leads.length / 2 - 1] as number) + (leads[leads.length / 2] as number)) / 2;
      return { rule, predictions: graded.length, hits, precision: graded.length === 0 ? null : hits / graded.length, medianLeadMillis: mid, pending: this.pending.filter((p) => p.rule === rule).length };
    });
  }
}
