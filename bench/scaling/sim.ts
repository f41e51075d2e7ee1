/**
 * The replay model shared by the scaling benchmarks: a policy requests a
 * replica count at every step; new replicas serve load `startupSteps` later
 * (and are paid from the moment they are requested), removed ones stop at
 * once. Every policy pays the same delay.
 */
import type { TraceRow } from '@sloth/scheduler';

/** What a policy sees at step t: the trace up to t (never later) and the replicas serving now. */
export interface StepContext {
  step: number;
  demand: number;
  ready: number;
  /** Replicas requested so far (ready + starting). */
  requested: number;
}

export type ReplayPolicy = (context: StepContext) => number;

export interface ReplayResult {
  underProvisionedMinutes: number;
  /** The steps that were under-provisioned. */
  underProvisionedSteps: number[];
  /** Demand above serving capacity, summed over steps, as a share of all demand. */
  unservedShare: number;
  replicaHours: number;
  actions: number;
  steps: number;
}

export function replay(rows: readonly TraceRow[], options: { capacityPerReplica: number; startupSteps: number; stepMinutes: number; initialReplicas: number }, policy: ReplayPolicy): ReplayResult {
  const { capacityPerReplica, startupSteps, stepMinutes } = options;
  let ready = options.initialReplicas;
  // Replicas starting, in batches by the step they were requested at (a trace may ask for a million at once).
  const starting: Array<{ readyStep: number; count: number }> = [];
  let startingCount = 0;
  const underSteps: number[] = [];
  let unserved = 0;
  let total = 0;
  let replicaSteps = 0;
  let actions = 0;
  rows.forEach((row, step) => {
    while (starting.length > 0 && (starting[0] as { readyStep: number }).readyStep <= step) {
      const batch = starting.shift() as { readyStep: number; count: number };
      ready += batch.count;
      startingCount -= batch.count;
    }
    const capacity = ready * capacityPerReplica;
    if (row.demand > capacity * (1 + 1e-9)) {
      underSteps.push(step);
      unserved += row.demand - capacity;
    }
    total += row.demand;
    replicaSteps += ready + startingCount;
    const current = ready + startingCount;
    const wanted = Math.max(0, Math.round(policy({ step, demand: row.demand, ready, requested: current })));
    if (wanted !== current) actions += 1;
    if (wanted > current) {
      starting.push({ readyStep: step + startupSteps, count: wanted - current });
      startingCount += wanted - current;
    }
    let remove = current - wanted;
    // The newest requests are cancelled first.
    while (remove > 0 && starting.length > 0) {
      const batch = starting[starting.length - 1] as { readyStep: number; count: number };
      const cancelled = Math.min(batch.count, remove);
      batch.count -= cancelled;
      startingCount -= cancelled;
      remove -= cancelled;
      if (batch.count === 0) starting.pop();
    }
    ready -= Math.max(0, remove);
  });
  return { underProvisionedMinutes: underSteps.length * stepMinutes, underProvisionedSteps: underSteps, unservedShare: total > 0 ? unserved / total : 0, replicaHours: (replicaSteps * stepMinutes) / 60, actions, steps: rows.length };
}

/**
 * Kubernetes HPA on utilisation: desired = ceil(ready × utilisation / target),
 * no change within the tolerance, scale-in to the highest desired count of the
 * stabilisation window, scale-out at once.
 */
export function hpaPolicy(options: { capacityPerReplica: number; target: number; tolerance: number; stabilizationSteps: number; minReplicas: number }): ReplayPolicy {
  const recent: number[] = [];
  return ({ demand, ready, requested }) => {
    const usage = demand / (Math.max(ready, 1) * options.capacityPerReplica);
    const ratio = usage / options.target;
    let desired = Math.abs(ratio - 1) <= options.tolerance ? requested : Math.max(options.minReplicas, Math.ceil(Math.max(ready, 1) * ratio - 1e-9));
    recent.push(desired);
    if (recent.length > options.stabilizationSteps) recent.shift();
    if (desired < requested) desired = Math.min(requested, Math.max(...recent));
    return desired;
  };
}
