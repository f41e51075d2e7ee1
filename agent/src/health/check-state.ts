/** A check's (or the agent's) health. */
export type HealthState = 'healthy' | 'unhealthy' | 'unknown';

/** One run of a check. */
export interface CheckResult {
  readonly ok: boolean;
  readonly message: string;
  readonly atMillis: number;
  readonly durationMillis: number;
}

export interface Transition {
  readonly check: string;
  readonly from: HealthState;
  readonly to: HealthState;
  readonly result: CheckResult;
}

/** Recent runs kept per check. */
export const historyLength = 20;

/**
 * The state machine of one check: `unknown` until enough consecutive runs
 * agree; `successThreshold` consecutive passes make it healthy,
 * `failureThreshold` consecutive failures make it unhealthy.
 */
export class CheckState {
  state: HealthState = 'unknown';
  consecutiveSuccesses = 0;
  consecutiveFailures = 0;
  readonly history: CheckResult[] = [];
  lastTransitionMillis: number | undefined;

  constructor(
    readonly name: string,
    private readonly successThreshold: number,
    private readonly failureThreshold: number,
  ) {}

  /** Records a run; returns the transition it caused, if any. */
  record(result: CheckResult): Transition | undefined {
    this.history.push(result);
    if (this.history.length > historyLength) this.history.shift();
    if (result.ok) {
      this.consecutiveSuccesses += 1;
      this.consecutiveFailures = 0;
    } else {
      this.consecutiveFailures += 1;
      this.consecutiveSuccesses = 0;
    }
    const from = this.state;
    let to = from;
    if (from !== 'healthy' && this.consecutiveSuccesses >= this.successThreshold) to = 'healthy';
    if (from !== 'unhealthy' && this.consecutiveFailures >= this.failureThreshold) to = 'unhealthy';
    if (to === from) return undefined;
    this.state = to;
    this.lastTransitionMillis = result.atMillis;
    return { check: this.name, from, to, result };
  }
}

const severity: Readonly<Record<HealthState, number>> = { healthy: 0, unknown: 1, unhealthy: 2 };

/** The worst of several states (unhealthy > unknown > healthy); healthy when there are none. */
export function worstState(states: Iterable<HealthState>): HealthState {
  let worst: HealthState = 'healthy';
  for (const s of states) if (severity[s] > severity[worst]) worst = s;
  return worst;
}

/** The metric value of a state: 1 healthy, 0 unhealthy, -1 unknown. */
export function stateValue(state: HealthState): number {
  return state === 'healthy' ? 1 : state === 'unhealthy' ? 0 : -1;
}
