import type { Redis } from 'ioredis';
import { forecastMessageSchema, metricCatalogue, parseSeriesId, type Logger, type MetricCounter, type MetricGauge, type MetricsRegistry, type QueryClient, type RedisKeys } from '@sloth/core';
import type { Actuator, ActuationResult } from './actuator.js';
import type { ScalingTargetConfig } from './config.js';
import { defaultReactiveReference, quantileFromCosts, scalingModes, ScalingPolicy, type QuantileForecast, type ScalingDecision } from './policy.js';

/** A decision as recorded: the policy's, plus what was done about it. */
export interface RecordedDecision extends ScalingDecision {
  target: string;
  /** `act` or `forecast-only` (the target's mode). */
  targetMode: ScalingTargetConfig['mode'];
  acted: boolean;
  actuation: ActuationResult | null;
  forecastModel: string | null;
}

export interface ScalingControllerOptions {
  targets: readonly ScalingTargetConfig[];
  collector: QueryClient;
  /** Non-blocking connection (decisions list, forecasts stream). */
  redis: Redis;
  keys: RedisKeys;
  actuators: ReadonlyMap<string, Actuator>;
  logger: Logger;
  /** Decisions kept per target. @defaultValue 1000 */
  keepDecisions?: number;
  metrics?: MetricsRegistry | undefined;
  now?: () => number;
}

interface TargetState {
  config: ScalingTargetConfig;
  policy: ScalingPolicy;
  timer?: NodeJS.Timeout;
  running?: Promise<unknown>;
}

/** The policy settings of a target: seconds become decision steps. */
export function targetPolicy(config: ScalingTargetConfig): ScalingPolicy {
  const step = config.intervalSeconds;
  return new ScalingPolicy(
    {
      capacityPerReplica: config.capacityPerReplica,
      startupSteps: Math.round(config.startupSeconds / step),
      minReplicas: config.minReplicas,
      maxReplicas: config.maxReplicas,
      windows: config.windows,
      targetUtilization: config.targetUtilization,
      quantile: quantileFromCosts(config.underProvisioningCost, config.overProvisioningCost),
      scaleInStabilizationSteps: Math.max(1, Math.ceil((config.scaleInStabilizationSeconds ?? 2 * step) / step)),
      maxScaleOutPerStep: config.maxScaleOutPerDecision,
      maxScaleInFractionPerStep: config.maxScaleInFraction,
      maxHeadroomFactor: config.maxHeadroomFactor,
      spendBudgetRatio: config.spendBudgetRatio,
      referenceFloor: config.referenceFloor,
      referenceStabilizationSteps: Math.max(1, Math.round(defaultReactiveReference.stabilizationMillis / 1000 / step)),
      minHistorySteps: config.minHistory,
      minCoverage: config.minCoverage,
      maxMase: config.maxMase,
    },
    config.initialReplicas,
  );
}

/**
 * Runs the predictive-scaling policy for every configured target: every
 * `intervalSeconds` it reads the demand series' latest value (collector
 * query API) and the newest forecast of that series (`sloth:forecasts`),
 * asks the policy, records the decision with its reasons in Redis
 * (`<prefix>:scaling:decisions:<target>`), exports it as metrics, and calls
 * the actuator when the target is in `act` mode and the count changes.
 */
export class ScalingController {
  private readonly options: ScalingControllerOptions;
  private readonly states = new Map<string, TargetState>();
  private readonly decisions: MetricCounter<'target' | 'direction'> | undefined;
  private readonly desired: MetricGauge<'target'> | undefined;
  private readonly planned: MetricGauge<'target'> | undefined;
  private readonly observed: MetricGauge<'target'> | undefined;
  private readonly modes: MetricGauge<'target' | 'mode'> | undefined;

  constructor(options: ScalingControllerOptions) {
    this.options = options;
    for (const config of options.targets) this.states.set(config.name, { config, policy: targetPolicy(config) });
    if (options.metrics !== undefined) {
      this.decisions = options.metrics.counter(metricCatalogue.schedulerScalingDecisions);
      this.desired = options.metrics.gauge(metricCatalogue.schedulerDesiredReplicas);
      this.planned = options.metrics.gauge(metricCatalogue.schedulerForecastDemand);
      this.observed = options.metrics.gauge(metricCatalogue.schedulerDemand);
      this.modes = options.metrics.gauge(metricCatalogue.schedulerScalingMode);
    }
  }

  private now(): number {
    return (this.options.now ?? Date.now)();
  }

  get targets(): ScalingTargetConfig[] {
    return [...this.states.values()].map((s) => s.config);
  }

  start(): void {
    for (const state of this.states.values()) {
      state.timer = setInterval(() => {
        if (state.running !== undefined) return;
        state.running = this.decide(state.config.name)
          .catch((error: unknown) => this.options.logger.warn({ err: error, target: state.config.name }, 'scaling decision failed'))
          .finally(() => {
            state.running = undefined;
          });
      }, state.config.intervalSeconds * 1000);
    }
  }

  async shutdown(): Promise<void> {
    for (const state of this.states.values()) {
      if (state.timer !== undefined) clearInterval(state.timer);
      await state.running;
    }
  }

  private decisionsKey(target: string): string {
    return this.options.keys.key('scaling', 'decisions', target);
  }

  /** The demand now: the latest point of the series, or undefined when it has none fresh enough. */
  async demand(config: ScalingTargetConfig): Promise<number | undefined> {
    const { name } = parseSeriesId(config.demandSeries);
    const result = await this.options.collector.latest({ name });
    if (!result.ok) return undefined;
    const point = result.value.find((p) => p.key === config.demandSeries);
    if (point === undefined || point.v === null) return undefined;
    if (this.now() - point.t > 3 * config.intervalSeconds * 1000) return undefined;
    return point.v;
  }

  /** The newest forecast of the series for one startup time from now. */
  async forecast(config: ScalingTargetConfig): Promise<(QuantileForecast & { model: string }) | undefined> {
    const entries = (await this.options.redis.xrevrange(this.options.keys.forecasts, '+', '-', 'COUNT', 2000)) as Array<[string, string[]]>;
    const at = this.now() + config.startupSeconds * 1000;
    for (const [, fields] of entries) {
      const index = fields.indexOf('data');
      let payload: unknown;
      try {
        payload = JSON.parse(fields[index + 1] ?? 'null');
      } catch {
        continue;
      }
      const parsed = forecastMessageSchema.safeParse(payload);
      if (!parsed.success || parsed.data.seriesId !== config.demandSeries) continue;
      const point = parsed.data.points.find((p) => p.timestampMillis >= at - parsed.data.stepMillis / 2);
      // The newest forecast does not reach one startup time ahead: it cannot plan this decision.
      if (point === undefined) return undefined;
      return { p10: point.p10, p50: point.p50, p90: point.p90, model: `${parsed.data.model}@${parsed.data.modelVersion}` };
    }
    return undefined;
  }

  /** Makes one decision for a target now (the timer calls this; tests call it directly). */
  async decide(targetName: string): Promise<RecordedDecision | undefined> {
    const state = this.states.get(targetName);
    if (state === undefined) throw new Error(`no scaling target ${targetName}`);
    const { config, policy } = state;
    const demand = await this.demand(config);
    if (demand === undefined) {
      this.options.logger.warn({ target: config.name, series: config.demandSeries }, 'no fresh demand value: no scaling decision this interval');
      return undefined;
    }
    const forecast = await this.forecast(config);
    const decision = policy.decide({ timestampMillis: this.now(), demand, forecast });
    let actuation: ActuationResult | null = null;
    const actuator = this.options.actuators.get(config.name);
    const act = config.mode === 'act' && decision.action !== 'hold' && actuator !== undefined;
    if (act) {
      actuation = await actuator.scale({ target: config.name, replicas: decision.replicas, previous: decision.previousReplicas, reasons: decision.reasons, decidedAtMillis: decision.timestampMillis });
      if (actuation.kind === 'failure') {
        // Nothing changed out there: the next decision starts from what is really running.
        policy.resetReplicas(decision.previousReplicas);
        decision.reasons.push(`actuation failed: ${actuation.detail}; still at ${decision.previousReplicas}`);
      }
    } else if (config.mode === 'forecast-only' && decision.action !== 'hold') {
      decision.reasons.push(`target in forecast-only mode: would ${decision.action} to ${decision.replicas}, not acted on`);
    }
    const recorded: RecordedDecision = { ...decision, target: config.name, targetMode: config.mode, acted: act && actuation?.kind === 'ok', actuation, forecastModel: forecast?.model ?? null };
    await this.options.redis
      .multi()
      .lpush(this.decisionsKey(config.name), JSON.stringify(recorded))
      .ltrim(this.decisionsKey(config.name), 0, (this.options.keepDecisions ?? 1000) - 1)
      .exec();
    this.decisions?.inc({ target: config.name, direction: decision.action === 'scale-out' ? 'up' : decision.action === 'scale-in' ? 'down' : 'hold' });
    this.desired?.set({ target: config.name }, decision.replicas);
    for (const mode of scalingModes) this.modes?.set({ target: config.name, mode }, mode === decision.mode ? 1 : 0);
    this.observed?.set({ target: config.name }, demand);
    if (decision.forecastValue !== null) this.planned?.set({ target: config.name }, decision.forecastValue);
    this.options.logger.info({ target: config.name, replicas: decision.replicas, action: decision.action, mode: decision.mode, acted: recorded.acted, reasons: decision.reasons }, 'scaling decision');
    return recorded;
  }

  /** Recorded decisions of a target, newest first. */
  async history(targetName: string, limit = 100): Promise<RecordedDecision[]> {
    const texts = await this.options.redis.lrange(this.decisionsKey(targetName), 0, limit - 1);
    return texts.map((text) => JSON.parse(text) as RecordedDecision);
  }
}
