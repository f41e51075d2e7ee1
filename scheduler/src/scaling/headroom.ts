/** What a plan was based on: the load it was sized for, with and without the forecast. */
export interface PlanBase {
  /** max(forecast quantile, demand now, one replica's capacity): the base when the forecast is acted on. */
  predictive: number;
  /** max(demand now, one replica's capacity): the base when it is not. */
  reactive: number;
}

export type PlanBaseKind = keyof PlanBase;

/** Why a headroom factor was chosen. */
export type HeadroomBound = 'cost-level' | 'spend-budget' | 'below-cost-level' | 'all-outcomes' | 'over-budget' | 'cap';

/** The headroom chosen for one decision. */
export interface Headroom {
  /** Capacity planned, as a multiple of the base load. */
  factor: number;
  /** Past outcomes the factor was chosen from. */
  outcomes: number;
  /** Share of those outcomes the factor would have served. */
  covered: number;
  /** What set it: the cost level (no budget), the spend budget (at or above the cost level, or below it), every past outcome, nothing fitting the budget, or the cap. */
  bound: HeadroomBound;
}

/**
 * The outcomes of past plans, learnt causally from the series itself (split
 * conformal on ratios): for every plan it remembers the base load, and when
 * the plan's step arrives it records the ratio of the demand that came to that
 * base. The headroom factor is then a quantile of those ratios, at a level the
 * policy chooses ({@link ScalingPolicy}: the level the target's costs imply,
 * raised while a spend budget affords it). Ratios are kept per base kind,
 * because a plan on the forecast and one on demand now miss differently.
 */
export class PlanHeadroom {
  private readonly window: number;
  private readonly minOutcomes: number;
  private readonly pending = new Map<number, PlanBase>();
  private readonly ratios: Record<PlanBaseKind, number[]> = { predictive: [], reactive: [] };

  constructor(options: { windowSteps: number; minOutcomes?: number }) {
    this.window = options.windowSteps;
    this.minOutcomes = options.minOutcomes ?? 24;
  }

  /** Remembers the base of the plan made now for step `forStep`. */
  plan(forStep: number, base: PlanBase): void {
    this.pending.set(forStep, base);
  }

  /** Scores the plan that was made for `step` against the demand that came. */
  mature(step: number, demand: number): void {
    const base = this.pending.get(step);
    if (base === undefined) return;
    this.pending.delete(step);
    for (const kind of ['predictive', 'reactive'] as const) {
      // A zero base has no ratio; the reactive floor and min replicas cover it.
      if (!(base[kind] > 0)) continue;
      const list = this.ratios[kind];
      list.push(demand / base[kind]);
      if (list.length > this.window) list.shift();
    }
  }

  /** The matured ratios of plans on `kind`, ascending, or null until enough have matured. */
  sortedRatios(kind: PlanBaseKind): number[] | null {
    const list = this.ratios[kind];
    if (list.length < this.minOutcomes) return null;
    return [...list].sort((a, b) => a - b);
  }
}
