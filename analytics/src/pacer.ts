import { setTimeout as sleepFor } from 'node:timers/promises';
import { performance } from 'node:perf_hooks';

/** What long work (a model fit, a forecast) calls at points where it may pause. */
export interface Pace {
  /** Resolves at once, or after a rest when the work has run a slice since its last rest. */
  breathe(): Promise<void>;
}

/** Never rests: the pace of work that is not throttled. */
export const unpaced: Pace = { breathe: async () => undefined };

export interface PacerClock {
  now(): number;
  /** Waits `millis`; resolves early (never rejects) when `signal` aborts. */
  sleep(millis: number, signal: AbortSignal): Promise<void>;
}

/** Throws a RangeError naming `what` unless 0 < `dutyCycle` ≤ 1. */
export function checkDutyCycle(dutyCycle: number, what = 'duty cycle'): void {
  if (!(dutyCycle > 0 && dutyCycle <= 1)) throw new RangeError(`${what} must be in (0, 1], got ${dutyCycle}`);
}

const realClock: PacerClock = {
  now: () => performance.now(),
  sleep: async (millis, signal) => {
    await sleepFor(millis, undefined, { signal }).catch(() => undefined);
  },
};

/**
 * Keeps work within a duty cycle d of one core at a fine grain: after each slice of work (default
 * 10 ms, 1 % of the agent's finest 1 s interval) it rests slice·(1/d − 1), so no second of the host's
 * CPU holds more than about d of a core of this work. Sloth runs its models on the host it watches:
 * work done in bursts would show up in the host's CPU series as the very anomalies Sloth reports.
 * One pacer per task; {@link hurry} ends the current rest and all later ones (shutdown).
 */
export class Pacer implements Pace {
  readonly dutyCycle: number;
  readonly sliceMillis: number;
  private readonly clock: PacerClock;
  private readonly hurried = new AbortController();
  private readonly onRest: () => void;
  private busySince: number;
  private rested = 0;

  /** `onRest` hears each rest as it begins. */
  constructor(dutyCycle: number, options: { sliceMillis?: number; clock?: PacerClock; onRest?: () => void } = {}) {
    checkDutyCycle(dutyCycle);
    const sliceMillis = options.sliceMillis ?? 10;
    if (!(sliceMillis > 0)) throw new RangeError(`slice must be a positive number of milliseconds, got ${sliceMillis}`);
    this.dutyCycle = dutyCycle;
    this.sliceMillis = sliceMillis;
    this.clock = options.clock ?? realClock;
    this.onRest = options.onRest ?? (() => undefined);
    this.busySince = this.clock.now();
  }

  /** Milliseconds spent resting so far. */
  get restedMillis(): number {
    return this.rested;
  }

  async breathe(): Promise<void> {
    if (this.clock.now() - this.busySince >= this.sliceMillis) await this.rest();
  }

  /** Rests for the work done since the last rest, however short (at the end of a task). */
  async finish(): Promise<void> {
    await this.rest();
  }

  /** No more rests: work in progress finishes at full speed. */
  hurry(): void {
    this.hurried.abort();
  }

  private async rest(): Promise<void> {
    const from = this.clock.now();
    const busy = from - this.busySince;
    if (this.dutyCycle < 1 && busy > 0 && !this.hurried.signal.aborted) {
      this.onRest();
      await this.clock.sleep(busy * (1 / this.dutyCycle - 1), this.hurried.signal);
      this.rested += this.clock.now() - from;
    }
    this.busySince = this.clock.now();
  }
}
