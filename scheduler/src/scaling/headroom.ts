/** What a plan was based on: the load it was sized for, with and without the forecast. */
export interface PlanBase {
  /** max(forecast quantile, demand now): the base when the forecast is acted on. */
  predictive: number;
  /** Demand now: the base when it is not. */
  reactive: number;
}

export type PlanBaseKind = keyof PlanBase;

/** The headroom chosen for one decision. */
export interface Headroom {
  /** Capacity planned, as a multiple of the base load. */
  factor: number;
  /** Past outcomes the factor was chosen from. */
  outcomes: number;
  /** Share of those outcomes the factor would have served. */
  covered: number;
}

/**
 * Headroom learnt from the series' own outcomes (split-conformal style, and
 * causal): for every plan it remembers the base load, and when the plan's
 * step arrives it records the ratio of the demand that came to that base.
 * The factor planned next is the past ratio that maximises
 * `share of past ratios ≤ factor − price × factor`: capacity is added while
 * one more base-level of it would have served at least `price` more of the
 * steps. Noise of a few percent is covered cheaply; rare spikes many times
 * the level are not chased, since covering them would cost far more capacity
 * than the steps they last. Ratios are kept per base kind, because a plan on
 * the forecast and one on demand now miss differently.
 */
export class PlanHeadroom {
  private readonly price: number;
  private readonly window: number;
  private readonly minOutcomes: number;
  private readonly pending = new Map<number, PlanBase>();
  private readonly ratios: Record<PlanBaseKind, number[]> = { predictive: [], reactive: [] };

  private readonly maxFactor: number;

  constructor(options: { price: number; windowSteps: number; minOutcomes?: number; maxFactor?: number }) {
    this.price = options.price;
    this.maxFactor = options.maxFactor ?? Number.POSITIVE_INFINITY;
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

  /** The factor for a plan on `kind`, or null until enough outcomes have matured. */
  factor(kind: PlanBaseKind): Headroom | null {
    const list = this.ratios[kind];
    if (list.length < this.minOutcomes) return null;
    const sorted = [...list].sort((a, b) => a - b);
    let best: Headroom = { factor: 0, outcomes: sorted.length, covered: 0 };
    let bestValue = 0;
    let coveredAtMax = 0;
    sorted.forEach((ratio, i) => {
      const covered = (i + 1) / sorted.length;
      // Beyond the cap no factor is planned; the cap itself is a candidate below.
      if (ratio > this.maxFactor) return;
      coveredAtMax = covered;
      const value = covered - this.price * ratio;
      if (value > bestValue) {
        bestValue = value;
        best = { factor: ratio, outcomes: sorted.length, covered };
      }
    });
    if (Number.isFinite(this.maxFactor) && coveredAtMax - this.price * this.maxFactor > bestValue) best = { factor: this.maxFactor, outcomes: sorted.length, covered: coveredAtMax };
    return best;
  }
}
