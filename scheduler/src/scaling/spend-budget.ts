import type { PlanBase, PlanBaseKind } from './headroom.js';

/** One step as the spend budget sees it, in replicas (and the plan bases in units of demand). */
export interface SpendStep {
  /** Replicas requested at this step (starting ones included). */
  held: number;
  /** Replicas the reactive reference holds at this step. */
  reference: number;
  /** Replicas the step could not go below whatever its plan: max(min replicas, demand now at the target utilisation). */
  floor: number;
  /** Min replicas in force. */
  min: number;
  /** The loads the step's plan was based on. */
  base: PlanBase;
}

/**
 * A rolling limit on the replicas a scaling target holds: `ratio` × what a
 * purely reactive autoscaler ({@link ReactiveReference}) replayed on the same
 * demand holds over the same window. Relative to that reference rather than to
 * demand, because what a reactive policy spends on a series depends on the
 * series (how often it crosses its tolerance band, how long its stabilisation
 * holds), and the bound is on spend compared with such a policy.
 *
 * Two uses: {@link affords} replays the window's plans at a candidate headroom
 * factor (plan, reactive floor and scale-in stabilisation) and says whether that
 * spend fits the budget, so the policy can pick the widest headroom that does;
 * {@link usage} says how what was actually held compares with it, so that
 * holding replicas for the stabilisation window stops while over. The min
 * replicas are never the policy's spending: a step is allowed at least its min.
 */
export class SpendBudget {
  private readonly ratio: number;
  private readonly windowSteps: number;
  private readonly minSteps: number;
  private readonly stabilizationSteps: number;
  private readonly capacityPerReplica: number;
  private readonly steps: SpendStep[] = [];
  private heldSum = 0;
  private allowedSum = 0;
  /** Steps in the window whose allowance overflowed to infinity (a huge ratio): while any, nothing is over budget. */
  private unbounded = 0;

  /**
   * @param options.ratio replicas allowed per replica the reactive reference holds
   * @param options.windowSteps steps the budget is measured over
   * @param options.stabilizationSteps the policy's scale-in stabilisation window, replayed by {@link affords}
   * @param options.minSteps steps recorded before the budget applies @defaultValue 24
   */
  constructor(options: { ratio: number; windowSteps: number; stabilizationSteps: number; capacityPerReplica: number; minSteps?: number }) {
    this.ratio = options.ratio;
    this.windowSteps = options.windowSteps;
    this.stabilizationSteps = Math.max(1, options.stabilizationSteps);
    this.capacityPerReplica = options.capacityPerReplica;
    this.minSteps = options.minSteps ?? 24;
  }

  private allowed(step: SpendStep): number {
    return Math.max(this.ratio * step.reference, step.min);
  }

  record(step: SpendStep): void {
    this.steps.push(step);
    this.heldSum += step.held;
    // Infinity would turn the running sum into NaN once it leaves the window: counted apart.
    const allowed = this.allowed(step);
    if (Number.isFinite(allowed)) this.allowedSum += allowed;
    else this.unbounded += 1;
    if (this.steps.length > this.windowSteps) {
      const old = this.steps.shift() as SpendStep;
      this.heldSum -= old.held;
      const oldAllowed = this.allowed(old);
      if (Number.isFinite(oldAllowed)) this.allowedSum -= oldAllowed;
      else this.unbounded -= 1;
    }
  }

  /** True once `minSteps` steps are recorded. */
  get measuring(): boolean {
    return this.steps.length >= this.minSteps;
  }

  /** Replicas held over the window as a share of the budget (above 1: over it), or null until `minSteps` are recorded. */
  usage(): number | null {
    if (!this.measuring) return null;
    if (this.unbounded > 0) return 0;
    if (this.allowedSum <= 0) return this.heldSum > 0 ? Number.POSITIVE_INFINITY : 0;
    return this.heldSum / this.allowedSum;
  }

  /** Replica-steps the window would have held had every plan in it been its `kind` base × `factor` (floor and stabilisation replayed). */
  counterfactual(kind: PlanBaseKind, factor: number): number {
    const recent: number[] = [];
    let sum = 0;
    for (const step of this.steps) {
      const desired = Math.max(step.floor, Math.ceil((step.base[kind] * factor) / this.capacityPerReplica - 1e-9));
      recent.push(desired);
      if (recent.length > this.stabilizationSteps) recent.shift();
      sum += Math.max(...recent);
    }
    return sum;
  }

  /** Whether planning `kind` base × `factor` over the window would have kept within the budget (true until measuring). */
  affords(kind: PlanBaseKind, factor: number): boolean {
    if (!this.measuring || this.unbounded > 0) return true;
    return this.counterfactual(kind, factor) <= this.allowedSum;
  }
}
