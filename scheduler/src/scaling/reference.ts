/** Settings of {@link ReactiveReference}; times in decision steps. */
export interface ReactiveReferenceSettings {
  capacityPerReplica: number;
  /** Steps from requesting a replica to it serving load (the target's own). */
  startupSteps: number;
  /** Utilisation aimed at. */
  utilization: number;
  /** No change while utilisation is within this share of the aim. */
  tolerance: number;
  /** Scale in only to the highest count wanted over this many steps. */
  stabilizationSteps: number;
  /** Replicas running before the first step. */
  initialReplicas: number;
}

/**
 * A purely reactive autoscaler replayed next to the predictive policy, on the
 * same demand and with the same startup delay, so that the policy can bound its
 * own spend by what reacting alone would have spent on this series (issue 14
 * compares against exactly such a policy: 70 % utilisation, ±10 % tolerance,
 * 5 minutes of scale-in stabilisation). It wants
 * ceil(serving × utilisation now / aim), keeps its count while utilisation is
 * within the tolerance, scales in to the highest count wanted over the
 * stabilisation window, and pays for starting replicas from the moment they are
 * requested; a scale-in cancels the newest starting replicas first.
 */
export class ReactiveReference {
  private readonly settings: ReactiveReferenceSettings;
  private ready: number;
  /** Starting replicas in batches, oldest first. */
  private readonly starting: Array<{ readyStep: number; count: number }> = [];
  private startingCount = 0;
  private readonly recent: number[] = [];
  private step = 0;

  constructor(settings: ReactiveReferenceSettings) {
    this.settings = settings;
    this.ready = settings.initialReplicas;
  }

  /** Advances one step with the demand now and the bounds in force; returns the replicas it holds after deciding (ready and starting). */
  next(demand: number, min: number, max: number): number {
    const s = this.settings;
    while (this.starting.length > 0 && (this.starting[0] as { readyStep: number }).readyStep <= this.step) {
      const batch = this.starting.shift() as { readyStep: number; count: number };
      this.ready += batch.count;
      this.startingCount -= batch.count;
    }
    const requested = this.ready + this.startingCount;
    const serving = Math.max(this.ready, 1);
    const ratio = demand / (serving * s.capacityPerReplica) / s.utilization;
    let desired = Math.abs(ratio - 1) <= s.tolerance ? requested : Math.ceil(serving * ratio - 1e-9);
    desired = Math.min(Math.max(desired, min), max);
    this.recent.push(desired);
    if (this.recent.length > s.stabilizationSteps) this.recent.shift();
    if (desired < requested) desired = Math.min(requested, Math.max(...this.recent));
    if (desired > requested) {
      this.starting.push({ readyStep: this.step + s.startupSteps, count: desired - requested });
      this.startingCount += desired - requested;
    }
    let remove = requested - desired;
    while (remove > 0 && this.starting.length > 0) {
      const batch = this.starting[this.starting.length - 1] as { readyStep: number; count: number };
      const cancelled = Math.min(batch.count, remove);
      batch.count -= cancelled;
      this.startingCount -= cancelled;
      remove -= cancelled;
      if (batch.count === 0) this.starting.pop();
    }
    this.ready -= Math.max(0, remove);
    this.step += 1;
    return this.ready + this.startingCount;
  }
}
