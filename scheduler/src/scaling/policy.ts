import { SlothError } from '@sloth/core';
import { PlanHeadroom, type Headroom, type PlanBaseKind } from './headroom.js';
import { ReactiveReference } from './reference.js';
import { SpendBudget } from './spend-budget.js';

/**
 * Replicas held over the headroom window, at most, per replica a purely
 * reactive autoscaler replayed on the same demand holds ({@link ReactiveReference}):
 * issue 14's bound (≤ 10 % more replica-hours than such a policy), stated, not fitted.
 */
export const defaultSpendBudgetRatio = 1.1;
/** The reactive reference's utilisation aim, tolerance and scale-in stabilisation: issue 14's comparison policy. */
export const defaultReactiveReference = { utilization: 0.7, tolerance: 0.1, stabilizationMillis: 5 * 60_000 } as const;

/** A forecast of demand at one future step. */
export interface QuantileForecast {
  p10: number;
  p50: number;
  p90: number;
}

/** Minimum and maximum replicas, optionally different inside UTC time windows. */
export interface ReplicaWindow {
  /** UTC days of week (0 = Sunday); all days when absent. */
  days?: readonly number[] | undefined;
  /** UTC hour the window starts (inclusive), 0–23. */
  fromHour: number;
  /** UTC hour the window ends (exclusive), 1–24; may be ≤ fromHour to wrap midnight. */
  toHour: number;
  minReplicas?: number | undefined;
  maxReplicas?: number | undefined;
}

/** Settings of the predictive-scaling policy; times are in decision steps. */
export interface ScalingPolicySettings {
  capacityPerReplica: number;
  /** Steps from requesting a replica to it serving load. */
  startupSteps: number;
  minReplicas: number;
  maxReplicas: number;
  windows?: readonly ReplicaWindow[] | undefined;
  /** Load per replica the policy aims at, as a fraction of capacity. @defaultValue 0.9 */
  targetUtilization?: number;
  /** Forecast quantile planned for, 0.5–0.9 (see {@link quantileFromCosts}). @defaultValue 0.9 */
  quantile?: number;
  /** Scale in only to the highest desired count of this many past steps. @defaultValue 2 */
  scaleInStabilizationSteps?: number;
  /** Replicas added in one step at most. @defaultValue unlimited */
  maxScaleOutPerStep?: number;
  /** Share of the current replicas removed in one step at most (at least one). @defaultValue 1 (the stabilisation window alone paces scale-in) */
  maxScaleInFractionPerStep?: number;
  /** Observations before forecasts are used at all. @defaultValue 48 */
  minHistorySteps?: number;
  /** Matured forecasts the guard looks back over. @defaultValue 96 */
  guardWindowSteps?: number;
  /** Below this share of actuals inside p10–p90 the forecast is untrusted. @defaultValue 0.5 */
  minCoverage?: number;
  /** Above this MASE (against a naive forecast at the same horizon) the forecast is untrusted. @defaultValue 1.5 */
  maxMase?: number;
  /** Past plan outcomes the headroom is learnt from, and steps the spend budget is measured over. @defaultValue 288 */
  headroomWindowSteps?: number;
  /**
   * Most headroom planned, as a multiple of the base load, however spiky the
   * series' past. @defaultValue unbounded (the spend budget bounds what spikes cost)
   */
  maxHeadroomFactor?: number | undefined;
  /**
   * Replicas the target may hold over the last `headroomWindowSteps`, as a
   * multiple of what the reactive reference holds in them (see {@link SpendBudget}):
   * the headroom covers as many past outcomes as fit it (never fewer than
   * `quantile` of them), and while what was held exceeds it, scale-in is not
   * held by the stabilisation window; null: no budget, the headroom is the
   * `quantile` of past outcomes. @defaultValue 1.1 ({@link defaultSpendBudgetRatio})
   */
  spendBudgetRatio?: number | null;
  /** The reactive reference's utilisation aim. @defaultValue 0.7 */
  referenceUtilization?: number;
  /** The reactive reference's tolerance around its aim. @defaultValue 0.1 */
  referenceTolerance?: number;
  /** The reactive reference's scale-in stabilisation, in steps. @defaultValue scaleInStabilizationSteps (callers that know the step length pass 5 minutes' worth) */
  referenceStabilizationSteps?: number;
  /**
   * Scale-in never goes below what a forecast planned for a step still to come (plans made in the last
   * startupSteps − 1 steps), even over the spend budget: those replicas were started for it and could not
   * be started again in time. The replicas held count as wanted in the spend budget, so its plan scale
   * pays for them. @defaultValue true (chosen on the tuning and validation traces, see bench/scaling/tune.ts)
   */
  keepPlansAhead?: boolean;
  /**
   * The replicas requested are never fewer than the reactive reference (the HPA policy, replayed on the same
   * demand) requests at this step: forecasts only add capacity to what reacting alone would hold.
   * @defaultValue false (rule "Reference floor", bench/scaling/RULES.md)
   */
  referenceFloor?: boolean;
}

/** What one observation carries into {@link ScalingPolicy.decide}. */
export interface ScalingObservation {
  timestampMillis: number;
  /** Demand now, in the units `capacityPerReplica` is in. */
  demand: number;
  /** Forecast of demand `startupSteps` steps from now, if one is available. */
  forecast?: QuantileForecast | undefined;
}

/** The policy's modes, in the order a target usually passes through them. */
export const scalingModes = ['warming-up', 'predictive', 'forecast-only', 'reactive'] as const;
export type ScalingMode = (typeof scalingModes)[number];

/** One decision, with everything needed to explain it. */
export interface ScalingDecision {
  step: number;
  timestampMillis: number;
  demand: number;
  mode: ScalingMode;
  previousReplicas: number;
  /** Replicas the current demand needs at the target utilisation. */
  reactiveReplicas: number;
  /** Replicas the forecast quantile needs (at the target utilisation), when a forecast was given. */
  predictiveReplicas: number | null;
  /** Capacity planned as a multiple of the base load (learnt headroom), or null while it is still learning. */
  headroomFactor: number | null;
  /** Replicas held over the spend window as a share of the spend budget (above 1: over it), or null while it is still measuring. */
  spendUsage: number | null;
  /** The planned forecast value (the chosen quantile). */
  forecastValue: number | null;
  /** Replicas requested after limits, stabilisation and bounds. */
  replicas: number;
  action: 'scale-out' | 'scale-in' | 'hold';
  coverage: number | null;
  mase: number | null;
  cappedAtMax: boolean;
  reasons: string[];
}

/**
 * The quantile that minimises expected cost when under-provisioning costs
 * `underCost` per unit and over-provisioning `overCost` (the newsvendor
 * critical ratio), kept within p50…p90 because analytics forecasts no further.
 */
export function quantileFromCosts(underCost: number, overCost: number): number {
  if (!(underCost > 0) || !(overCost > 0)) {
    throw new SlothError('SLOTH_ERR_CONFIG', `under- and over-provisioning costs must be positive numbers, got ${underCost} and ${overCost}`);
  }
  return Math.min(0.9, Math.max(0.5, underCost / (underCost + overCost)));
}

/** The value at quantile `q` (0.5–0.9) of a p10/p50/p90 forecast, interpolated linearly. */
export function quantileValue(forecast: QuantileForecast, q: number): number {
  return forecast.p50 + ((q - 0.5) / 0.4) * (forecast.p90 - forecast.p50);
}

function positiveInteger(value: number, name: string, allowZero = false): void {
  if (!Number.isInteger(value) || value < (allowZero ? 0 : 1)) {
    throw new SlothError('SLOTH_ERR_CONFIG', `${name} must be an integer ≥ ${allowZero ? 0 : 1}, got ${value}`);
  }
}

/** Validates settings; throws one error naming every problem's value. */
export function validateScalingSettings(settings: ScalingPolicySettings): void {
  if (!(settings.capacityPerReplica > 0) || !Number.isFinite(settings.capacityPerReplica)) {
    throw new SlothError('SLOTH_ERR_CONFIG', `capacity per replica must be a positive number, got ${settings.capacityPerReplica}`);
  }
  positiveInteger(settings.startupSteps, 'startup steps', true);
  positiveInteger(settings.minReplicas, 'min replicas', true);
  positiveInteger(settings.maxReplicas, 'max replicas');
  if (settings.maxReplicas < settings.minReplicas) throw new SlothError('SLOTH_ERR_CONFIG', `max replicas (${settings.maxReplicas}) is below min replicas (${settings.minReplicas})`);
  const q = settings.quantile ?? 0.9;
  if (!(q >= 0.5 && q <= 0.9)) throw new SlothError('SLOTH_ERR_CONFIG', `quantile must be within 0.5–0.9, got ${q}`);
  positiveInteger(settings.headroomWindowSteps ?? 288, 'headroom window steps');
  const cap = settings.maxHeadroomFactor;
  if (cap !== undefined && !(cap >= 1 && Number.isFinite(cap))) throw new SlothError('SLOTH_ERR_CONFIG', `max headroom factor must be a finite number ≥ 1, got ${cap}`);
  const budget = settings.spendBudgetRatio === undefined ? defaultSpendBudgetRatio : settings.spendBudgetRatio;
  if (budget !== null && !(budget > 0 && Number.isFinite(budget))) throw new SlothError('SLOTH_ERR_CONFIG', `spend budget ratio must be a finite number > 0 (replicas per replica of the reactive reference), got ${budget}`);
  const ru = settings.referenceUtilization ?? defaultReactiveReference.utilization;
  if (!(ru > 0 && ru <= 1)) throw new SlothError('SLOTH_ERR_CONFIG', `reference utilisation must be within (0, 1], got ${ru}`);
  const rt = settings.referenceTolerance ?? defaultReactiveReference.tolerance;
  if (!(rt >= 0 && rt < 1)) throw new SlothError('SLOTH_ERR_CONFIG', `reference tolerance must be within [0, 1), got ${rt}`);
  if (settings.referenceStabilizationSteps !== undefined) positiveInteger(settings.referenceStabilizationSteps, 'reference stabilisation steps');
  const u = settings.targetUtilization ?? 0.9;
  if (!(u > 0 && u <= 1)) throw new SlothError('SLOTH_ERR_CONFIG', `target utilisation must be within (0, 1], got ${u}`);
  for (const window of settings.windows ?? []) {
    if (!(window.fromHour >= 0 && window.fromHour <= 23 && window.toHour >= 1 && window.toHour <= 24)) {
      throw new SlothError('SLOTH_ERR_CONFIG', `a replica window needs 0 ≤ fromHour ≤ 23 and 1 ≤ toHour ≤ 24, got ${window.fromHour}–${window.toHour}`);
    }
    if (window.minReplicas !== undefined) positiveInteger(window.minReplicas, 'window min replicas', true);
    if (window.maxReplicas !== undefined) positiveInteger(window.maxReplicas, 'window max replicas');
  }
}

/** The replica bounds in force at a time: the first matching window's, else the target's. */
export function boundsAt(settings: ScalingPolicySettings, timestampMillis: number): { min: number; max: number } {
  const date = new Date(timestampMillis);
  const hour = date.getUTCHours();
  for (const window of settings.windows ?? []) {
    if (window.days !== undefined && !window.days.includes(date.getUTCDay())) continue;
    const inside = window.fromHour < window.toHour ? hour >= window.fromHour && hour < window.toHour : hour >= window.fromHour || hour < window.toHour;
    if (!inside) continue;
    const min = window.minReplicas ?? settings.minReplicas;
    return { min, max: Math.max(min, window.maxReplicas ?? settings.maxReplicas) };
  }
  return { min: settings.minReplicas, max: settings.maxReplicas };
}

/**
 * The predictive-scaling policy, a pure state machine over observations:
 * the same class decides in the controller and in `sloth scale plan`, and
 * step t sees only what was observed up to t.
 *
 * Desired = max(predictive, reactive): a forecast can only add replicas, so
 * the policy never scales in on a forecast alone. The plan's headroom is
 * learnt from how the series' demand turned out against past plans
 * ({@link PlanHeadroom}) rather than fixed, once enough plans have matured;
 * until then, and always as the reactive floor, the target utilisation
 * applies. The headroom is the quantile of past outcomes at the level the
 * target's costs imply, raised towards covering every past outcome while the
 * spend that would have cost fits a budget relative to a reactive autoscaler
 * replayed on the same demand ({@link SpendBudget}, {@link ReactiveReference});
 * while over that budget scale-in is not held. Scale-in waits for the
 * stabilisation window; both directions are rate-limited. Forecasts are
 * trusted only after `minHistorySteps` and while their own rolling p10–p90
 * coverage and MASE stay within bounds; otherwise the predictive count is
 * still computed and recorded but not acted on (forecast-only), and the
 * reactive count alone decides.
 */
export class ScalingPolicy {
  readonly settings: Readonly<ScalingPolicySettings>;
  private readonly utilization: number;
  private readonly quantile: number;
  private readonly stabilization: number;
  private replicas: number;
  private step = 0;
  private readonly recentDesired: number[] = [];
  /** Forecast-based plans of the last startupSteps − 1 steps (0 when the step did not plan on a forecast). */
  private readonly plansAhead: number[] = [];
  /** Forecasts waiting for their step, keyed by the step they are for. */
  private readonly pending = new Map<number, QuantileForecast>();
  private readonly demands: number[] = [];
  private readonly matured: Array<{ inside: boolean; absError: number; naiveError: number }> = [];
  private untrusted = false;
  private readonly headroom: PlanHeadroom;
  private readonly spend: SpendBudget | null;
  private readonly reference: ReactiveReference | null;

  constructor(settings: ScalingPolicySettings, initialReplicas?: number) {
    validateScalingSettings(settings);
    this.settings = Object.freeze({ ...settings });
    this.utilization = settings.targetUtilization ?? 0.9;
    this.quantile = settings.quantile ?? 0.9;
    this.stabilization = Math.max(1, settings.scaleInStabilizationSteps ?? 2);
    this.replicas = initialReplicas ?? settings.minReplicas;
    positiveInteger(this.replicas, 'initial replicas', true);
    const windowSteps = settings.headroomWindowSteps ?? 288;
    this.headroom = new PlanHeadroom({ windowSteps });
    const budget = settings.spendBudgetRatio === undefined ? defaultSpendBudgetRatio : settings.spendBudgetRatio;
    this.spend = budget === null ? null : new SpendBudget({ ratio: budget, windowSteps, stabilizationSteps: this.stabilization, capacityPerReplica: settings.capacityPerReplica });
    this.reference =
      budget === null && settings.referenceFloor !== true
        ? null
        : new ReactiveReference({
            capacityPerReplica: settings.capacityPerReplica,
            startupSteps: settings.startupSteps,
            utilization: settings.referenceUtilization ?? defaultReactiveReference.utilization,
            tolerance: settings.referenceTolerance ?? defaultReactiveReference.tolerance,
            stabilizationSteps: settings.referenceStabilizationSteps ?? this.stabilization,
            initialReplicas: this.replicas,
          });
  }

  get currentReplicas(): number {
    return this.replicas;
  }

  /** Sets the replicas actually running (an actuation failed, or someone scaled by hand). */
  resetReplicas(replicas: number): void {
    positiveInteger(replicas, 'replicas', true);
    this.replicas = replicas;
  }

  private needed(load: number): number {
    return Math.ceil(load / (this.settings.capacityPerReplica * this.utilization) - 1e-9);
  }

  /** Rolling coverage and MASE of the forecasts that have matured, or null before there are enough. */
  private guardMetrics(): { coverage: number | null; mase: number | null } {
    const window = this.settings.guardWindowSteps ?? 96;
    const recent = this.matured.slice(-window);
    if (recent.length < Math.min(24, window)) return { coverage: null, mase: null };
    const coverage = recent.filter((m) => m.inside).length / recent.length;
    const naive = recent.reduce((sum, m) => sum + m.naiveError, 0);
    const mase = naive > 0 ? recent.reduce((sum, m) => sum + m.absError, 0) / naive : null;
    return { coverage, mase };
  }

  private mature(demand: number): void {
    const forecast = this.pending.get(this.step);
    this.pending.delete(this.step);
    const horizon = Math.max(1, this.settings.startupSteps);
    const base = this.demands[this.demands.length - 1 - horizon];
    if (forecast === undefined || base === undefined) return;
    this.matured.push({ inside: demand >= forecast.p10 && demand <= forecast.p90, absError: Math.abs(demand - forecast.p50), naiveError: Math.abs(demand - base) });
    const keep = (this.settings.guardWindowSteps ?? 96) * 2;
    if (this.matured.length > keep * 2) this.matured.splice(0, this.matured.length - keep);
  }

  /**
   * The headroom factor for a plan on `kind`: without a spend budget, the
   * quantile of the past outcomes at the cost level (`quantile`); with one,
   * the widest past outcome whose spend over the window fits the budget, above
   * or below the cost level (never past the cap); null until enough plans have
   * matured.
   */
  private chooseHeadroom(kind: PlanBaseKind): Headroom | null {
    const sorted = this.headroom.sortedRatios(kind);
    if (sorted === null) return null;
    const n = sorted.length;
    const cap = this.settings.maxHeadroomFactor ?? Number.POSITIVE_INFINITY;
    const at = (i: number): Headroom => ({ factor: sorted[i] as number, outcomes: n, covered: (i + 1) / n, bound: 'cost-level' });
    // The smallest past ratio that covers at least the cost level's share of the outcomes.
    const low = Math.min(n - 1, Math.max(0, Math.ceil(this.quantile * n - 1e-9) - 1));
    if ((sorted[low] as number) > cap) {
      let covered = 0;
      while (covered < n && (sorted[covered] as number) <= cap) covered += 1;
      return { factor: cap, outcomes: n, covered: covered / n, bound: 'cap' };
    }
    const spend = this.spend;
    if (spend === null || !spend.measuring) return at(low);
    // Highest index within the cap whose factor the budget affords (affordability falls as the factor grows).
    let high = n - 1;
    while (high > low && (sorted[high] as number) > cap) high -= 1;
    if (spend.affords(kind, sorted[high] as number)) return { ...at(high), bound: high === n - 1 ? 'all-outcomes' : 'cap' };
    if (!spend.affords(kind, sorted[0] as number)) return { ...at(0), bound: 'over-budget' };
    let ok = 0;
    let bad = high;
    while (bad - ok > 1) {
      const mid = (ok + bad) >> 1;
      if (spend.affords(kind, sorted[mid] as number)) ok = mid;
      else bad = mid;
    }
    return { ...at(ok), bound: ok < low ? 'below-cost-level' : 'spend-budget' };
  }

  /** Decides the replicas to request at this step. */
  decide(observation: ScalingObservation): ScalingDecision {
    const { demand, timestampMillis } = observation;
    if (!Number.isFinite(demand) || demand < 0) throw new SlothError('SLOTH_ERR_INPUT', `demand must be a finite number ≥ 0, got ${demand} at ${new Date(timestampMillis).toISOString()}`);
    const s = this.settings;
    this.demands.push(demand);
    if (this.demands.length > 4 * (s.startupSteps + 2)) this.demands.splice(0, this.demands.length - 2 * (s.startupSteps + 2));
    this.mature(demand);
    this.headroom.mature(this.step, demand);
    const reasons: string[] = [];
    const previous = this.replicas;
    const reactive = this.needed(demand);
    let predictive: number | null = null;
    let forecastValue: number | null = null;
    const { coverage, mase } = this.guardMetrics();
    const minCoverage = s.minCoverage ?? 0.5;
    const maxMase = s.maxMase ?? 1.5;
    if (coverage !== null) {
      const bad = coverage < minCoverage || (mase !== null && mase > maxMase);
      // Hysteresis: recover only with some margin, so the mode does not flap.
      const good = coverage >= Math.min(0.8, minCoverage + 0.1) && (mase === null || mase <= maxMase * 0.9);
      if (bad && !this.untrusted) reasons.push(`forecasts degraded (coverage ${coverage.toFixed(2)} < ${minCoverage} or MASE ${mase?.toFixed(2) ?? '-'} > ${maxMase}): forecast-only`);
      if (this.untrusted && good) reasons.push(`forecasts recovered (coverage ${coverage.toFixed(2)}, MASE ${mase?.toFixed(2) ?? '-'}): predictive again`);
      this.untrusted = bad || (this.untrusted && !good);
    }
    let mode: ScalingMode;
    if (observation.forecast !== undefined) {
      const f = observation.forecast;
      this.pending.set(this.step + Math.max(1, s.startupSteps), f);
      forecastValue = quantileValue(f, this.quantile);
      predictive = this.needed(forecastValue);
    }
    if (this.step + 1 < (s.minHistorySteps ?? 48)) {
      mode = 'warming-up';
      reasons.push(`history ${this.step + 1} < minimum ${s.minHistorySteps ?? 48} steps: reactive only`);
    } else if (predictive === null) {
      mode = 'reactive';
      reasons.push('no forecast: reactive only');
    } else if (this.untrusted) {
      mode = 'forecast-only';
      reasons.push(`forecast-only: predictive ${predictive} recorded, not acted on (coverage ${coverage?.toFixed(2) ?? '-'}, MASE ${mase?.toFixed(2) ?? '-'})`);
    } else {
      mode = 'predictive';
    }
    let desired = mode === 'predictive' && predictive !== null ? Math.max(predictive, reactive) : reactive;
    if (mode === 'predictive' && predictive !== null) reasons.push(predictive > reactive ? `forecast q${Math.round(this.quantile * 100)} ${forecastValue?.toFixed(2) ?? ''} in ${s.startupSteps} steps needs ${predictive} > ${reactive} for demand now` : `demand now needs ${reactive} ≥ forecast's ${predictive}`);
    // The base is recorded in every mode, so headroom on either base is ready when the mode changes. It is at least
    // one replica's capacity: capacity comes in replicas, and the ratio of a burst to an idle base says nothing.
    const unit = s.capacityPerReplica;
    const base = { predictive: Math.max(forecastValue ?? 0, demand, unit), reactive: Math.max(demand, unit) };
    this.headroom.plan(this.step + Math.max(1, s.startupSteps), base);
    const kind = mode === 'predictive' ? 'predictive' : 'reactive';
    const headroom = this.chooseHeadroom(kind);
    const spendUsage = this.spend?.usage() ?? null;
    const overBudget = spendUsage !== null && spendUsage > 1;
    // The replicas this step plans for its forecast alone (the reactive floor answers to demand now, not ahead).
    let forecastPlan = mode === 'predictive' && predictive !== null ? predictive : 0;
    if (headroom !== null) {
      // Learnt headroom replaces the fixed utilisation for the plan; demand now at the target utilisation stays the floor.
      const planned = Math.ceil((base[kind] * headroom.factor) / s.capacityPerReplica - 1e-9);
      desired = Math.max(reactive, planned);
      // The forecast alone, not max(forecast, demand now): a spike now is the reactive floor's, not a plan ahead.
      if (mode === 'predictive' && forecastValue !== null) forecastPlan = Math.ceil((forecastValue * headroom.factor) / s.capacityPerReplica - 1e-9);
      const level = `q${Math.round(this.quantile * 100)}`;
      const why = {
        'cost-level': `the cost level ${level}`,
        'spend-budget': `the most that fits ${this.settings.spendBudgetRatio ?? defaultSpendBudgetRatio}× the reactive reference's spend`,
        'all-outcomes': 'all of them, within the spend budget',
        'below-cost-level': `the most that fits ${this.settings.spendBudgetRatio ?? defaultSpendBudgetRatio}× the reactive reference's spend, below the cost level ${level}`,
        'over-budget': 'the smallest, over the spend budget even there',
        cap: `capped at ${this.settings.maxHeadroomFactor ?? '-'}`,
      }[headroom.bound];
      reasons.push(`plan ${planned} = ${kind === 'predictive' ? 'max(forecast, demand now, one replica)' : 'max(demand now, one replica)'} ${base[kind].toFixed(2)} × headroom ${headroom.factor.toFixed(2)} (covers ${(100 * headroom.covered).toFixed(0)} % of the last ${headroom.outcomes} outcomes: ${why})`);
    }
    const { min, max } = boundsAt(s, timestampMillis);
    // The reactive reference decides on demand alone; it is advanced exactly once per step.
    const referenceHeld = this.reference?.next(demand, min, max) ?? null;
    let cappedAtMax = false;
    if (desired > max) {
      // The rule for forecasts above max: plan for max and say so; the excess is unserved by design.
      reasons.push(`${desired} needed exceeds max ${max}: capped at max`);
      desired = max;
      cappedAtMax = true;
    }
    desired = Math.max(desired, min);
    this.recentDesired.push(desired);
    if (this.recentDesired.length > this.stabilization) this.recentDesired.shift();
    let next = previous;
    if (desired > previous) {
      const limit = s.maxScaleOutPerStep;
      next = limit === undefined ? desired : Math.min(desired, previous + limit);
      if (next < desired) reasons.push(`scale-out limited to +${limit} per step`);
    } else if (desired < previous) {
      const window = Math.max(...this.recentDesired);
      // Over the spend budget the window does not hold: holding is what a budget overrun is most often made of.
      const stabilized = overBudget ? desired : window;
      const step = Math.max(1, Math.floor(previous * (s.maxScaleInFractionPerStep ?? 1)));
      next = Math.max(stabilized, previous - step, min);
      if (stabilized > desired) reasons.push(`scale-in held at ${stabilized} by the ${this.stabilization}-step stabilisation window`);
      const ahead = s.keepPlansAhead !== false ? Math.min(previous, Math.max(0, ...this.plansAhead)) : 0;
      if (ahead > next) {
        next = ahead;
        reasons.push(`scale-in held at ${ahead}: planned on a forecast for a step still to come`);
      }
      if (overBudget && window > desired) reasons.push(`scale-in not held by the stabilisation window: held ${spendUsage.toFixed(2)}× the spend budget`);
      if (previous - step > Math.max(stabilized, desired)) reasons.push(`scale-in limited to −${step} per step`);
    }
    next = Math.min(Math.max(next, min), max);
    if (s.referenceFloor === true && referenceHeld !== null && referenceHeld > next) {
      next = Math.min(referenceHeld, max);
      reasons.push(`raised to ${next}: the reactive reference requests ${referenceHeld} now (reference floor)`);
    }
    this.replicas = next;
    this.plansAhead.push(Math.min(forecastPlan, max));
    if (this.plansAhead.length > Math.max(0, s.startupSteps - 1)) this.plansAhead.shift();
    if (this.spend !== null && referenceHeld !== null) {
      // Under the reference floor the step could not go below the reference's request either: the budget replays that.
      const ownFloor = Math.max(reactive, min);
      const floor = s.referenceFloor === true ? Math.max(ownFloor, referenceHeld) : ownFloor;
      this.spend.record({ held: next, reference: referenceHeld, floor: Math.min(max, floor), min, base });
    }
    const decision: ScalingDecision = {
      step: this.step,
      timestampMillis,
      demand,
      mode,
      previousReplicas: previous,
      reactiveReplicas: reactive,
      predictiveReplicas: predictive,
      headroomFactor: headroom?.factor ?? null,
      spendUsage,
      forecastValue,
      replicas: next,
      action: next > previous ? 'scale-out' : next < previous ? 'scale-in' : 'hold',
      coverage,
      mase,
      cappedAtMax,
      reasons,
    };
    this.step += 1;
    return decision;
  }
}
