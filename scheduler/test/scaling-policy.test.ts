import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { isSlothError } from '@sloth/core';
import { boundsAt, defaultSpendBudgetRatio, HorizonForecaster, parseTrace, planCsv, quantileFromCosts, ScalingPolicy, type ScalingPolicySettings } from '../src/index.js';
import { ReactiveReference } from '../src/scaling/reference.js';

const base: ScalingPolicySettings = { capacityPerReplica: 10, startupSteps: 3, minReplicas: 1, maxReplicas: 100, targetUtilization: 1, quantile: 0.9, minHistorySteps: 5, scaleInStabilizationSteps: 3 };
const t0 = Date.UTC(2026, 0, 5, 0, 0, 0);
const minute = 60_000;
const dir = mkdtempSync(join(tmpdir(), 'sloth-scale-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function code(run: () => unknown): string | undefined {
  try {
    run();
  } catch (error) {
    return isSlothError(error) ? `${error.code}: ${error.message}` : String(error);
  }
  return undefined;
}

describe('ScalingPolicy', () => {
  it('scales out one startup time ahead of a forecast ramp, and the ramp is served when it arrives', () => {
    const policy = new ScalingPolicy(base);
    // Demand 50 until step 40, then 200; the forecast for step t+3 is exact.
    const demand = (step: number): number => (step < 40 ? 50 : 200);
    const decisions = Array.from({ length: 50 }, (_, step) => {
      const future = demand(step + 3);
      return policy.decide({ timestampMillis: t0 + step * minute, demand: demand(step), forecast: { p10: future * 0.9, p50: future, p90: future * 1.1 } });
    });
    // At step 37 demand is still 50 (5 replicas) but the p90 of step 40 needs 22. Every past outcome came in
    // 10 % under the p90 (ratio 50 / 55), so the headroom that covers them all is 0.91: 220 × 0.91 = 200.
    expect(decisions[36]?.replicas).toBe(5);
    expect(decisions[37]?.replicas).toBe(20);
    expect(decisions[37]?.action).toBe('scale-out');
    expect(decisions[37]?.reactiveReplicas).toBe(5);
    expect(decisions[37]?.predictiveReplicas).toBe(22);
    expect(decisions[37]?.headroomFactor).toBeCloseTo(50 / 55, 6);
    expect(decisions[37]?.mode).toBe('predictive');
    expect(decisions[37]?.reasons.join(' ')).toMatch(/forecast q90 220\.00 in 3 steps needs 22/);
    expect(decisions[37]?.reasons.join(' ')).toMatch(/plan 20 = max\(forecast, demand now, one replica\) 220\.00 × headroom 0\.91 \(covers 100 % of the last \d+ outcomes: all of them, within the spend budget\)/);
    // Step 40's demand of 200 is served by the 20 asked for at step 37.
    expect(decisions.slice(40).every((d) => d.replicas * 10 >= 200)).toBe(true);
  });

  it('acts only reactively while warming up, then predicts', () => {
    const policy = new ScalingPolicy({ ...base, minHistorySteps: 10 });
    const first = policy.decide({ timestampMillis: t0, demand: 10, forecast: { p10: 500, p50: 500, p90: 500 } });
    expect(first.mode).toBe('warming-up');
    expect(first.replicas).toBe(1);
    expect(first.predictiveReplicas).toBe(50);
    expect(first.reasons[0]).toMatch(/history 1 < minimum 10/);
  });

  it('never scales in on a forecast alone, and scale-in waits for the stabilisation window', () => {
    const policy = new ScalingPolicy(base, 10);
    const low = { p10: 0, p50: 0, p90: 0 };
    const decisions = [100, 100, 100, 100, 100, 100, 40, 40, 40, 40, 40].map((d, step) => policy.decide({ timestampMillis: t0 + step * minute, demand: d, forecast: low }));
    // Demand 100 needs 10: a forecast of 0 does not take any away.
    expect(decisions.slice(0, 6).map((d) => d.replicas)).toEqual([10, 10, 10, 10, 10, 10]);
    // Demand falls to 40 at step 6: held at 10 for the 3-step window, then straight to 4 (no per-step limit by default).
    expect(decisions.slice(6).map((d) => d.replicas)).toEqual([10, 10, 4, 4, 4]);
    expect(decisions[6]?.reasons.join(' ')).toMatch(/held at 10 by the 3-step stabilisation window/);
  });

  it('learns its headroom from how demand turned out: covers the noise, does not hold capacity for rare spikes it cannot afford', () => {
    const policy = new ScalingPolicy({ ...base, minHistorySteps: 1, scaleInStabilizationSteps: 1 });
    // Demand 100 with ±5 % noise, and a 1-step spike to 1,000 every 40 steps (2.5 % of the steps).
    const noise = [0, 3, -4, 5, -2, 1, -5, 4, -3, 2];
    const demand = (step: number): number => (step % 40 === 39 ? 1000 : 100 + (noise[step % noise.length] as number));
    const decisions = Array.from({ length: 400 }, (_, step) => policy.decide({ timestampMillis: t0 + step * minute, demand: demand(step) }));
    const quiet = decisions.slice(300).filter((d) => d.demand < 200);
    for (const d of quiet) {
      // A spike's ratio (about 10×) would need 10 × the capacity to cover 2.5 % more steps: over the spend budget.
      expect(d.headroomFactor).toBeGreaterThanOrEqual(1.05);
      expect(d.headroomFactor).toBeLessThan(1.2);
      expect(d.replicas).toBeLessThanOrEqual(13);
    }
    expect(quiet[0]?.reasons.join(' ')).toMatch(/plan \d+ = max\(demand now, one replica\) \d+\.\d\d × headroom 1\.\d\d \(covers 9\d % of the last 288 outcomes: the most that fits 1\.1× the reactive reference's spend\)/);
    // Demand now stays the floor: the spike step itself asks for what the spike needs.
    expect(decisions[359]?.replicas).toBe(100);
  });

  it('limits scale-out per step when told to', () => {
    const policy = new ScalingPolicy({ ...base, maxScaleOutPerStep: 4, minHistorySteps: 1 }, 2);
    const decisions = [200, 200, 200].map((d, step) => policy.decide({ timestampMillis: t0 + step * minute, demand: d }));
    expect(decisions.map((d) => d.replicas)).toEqual([6, 10, 14]);
    expect(decisions[0]?.reasons.join(' ')).toMatch(/scale-out limited to \+4 per step/);
  });

  it('caps forecasts above max replicas and says so', () => {
    const policy = new ScalingPolicy({ ...base, maxReplicas: 8, minHistorySteps: 1 });
    const decision = policy.decide({ timestampMillis: t0, demand: 50, forecast: { p10: 900, p50: 1000, p90: 1100 } });
    expect(decision.replicas).toBe(8);
    expect(decision.cappedAtMax).toBe(true);
    expect(decision.reasons.join(' ')).toMatch(/110 needed exceeds max 8: capped at max/);
  });

  it('falls back to forecast-only when its forecasts go bad, recording but not acting on them', () => {
    const policy = new ScalingPolicy({ ...base, guardWindowSteps: 24, minCoverage: 0.5, maxMase: 1.5 });
    const demand = (step: number): number => 100 + 20 * Math.sin(step / 5);
    const decisions = Array.from({ length: 140 }, (_, step) => {
      const future = demand(step + 3);
      // Good forecasts until step 80, then wildly high ones.
      const forecast = step < 80 ? { p10: future - 5, p50: future, p90: future + 5 } : { p10: 400, p50: 500, p90: 600 };
      return policy.decide({ timestampMillis: t0 + step * minute, demand: demand(step), forecast });
    });
    expect(decisions[79]?.mode).toBe('predictive');
    expect(decisions[79]?.coverage).toBe(1);
    const firstBad = decisions.findIndex((d) => d.mode === 'forecast-only');
    // The first bad forecast matures 3 steps later; the guard needs the window to turn.
    expect(firstBad).toBeGreaterThan(82);
    expect(firstBad).toBeLessThan(100);
    expect(decisions[firstBad]?.reasons.join(' ')).toMatch(/forecasts degraded \(coverage 0\.\d+ < 0\.5/);
    const last = decisions[139];
    expect(last?.mode).toBe('forecast-only');
    expect(last?.predictiveReplicas).toBe(60);
    // Acts on demand now only: 100 ± 20 needs at most 12, plus headroom learnt from how demand moved
    // over 3 steps (at most 120 / 80 = 1.5), never the forecast's 60.
    expect(last?.replicas).toBeLessThanOrEqual(18);
    expect(last?.headroomFactor).toBeGreaterThan(1);
    expect(last?.headroomFactor).toBeLessThanOrEqual(1.5);
    expect(last?.reasons.join(' ')).toMatch(/forecast-only: predictive 60 recorded, not acted on/);
  });

  it('without a spend budget plans the cost-level quantile of past outcomes, and never more than its cap', () => {
    const noise = [0, 3, -4, 5, -2, 1, -5, 4, -3, 2];
    const demand = (step: number): number => (step % 40 === 39 ? 1000 : 100 + (noise[step % noise.length] as number));
    const run = (settings: Partial<ScalingPolicySettings>): ReturnType<ScalingPolicy['decide']>[] => {
      const policy = new ScalingPolicy({ ...base, minHistorySteps: 1, scaleInStabilizationSteps: 1, spendBudgetRatio: null, ...settings });
      return Array.from({ length: 400 }, (_, step) => policy.decide({ timestampMillis: t0 + step * minute, demand: demand(step) })).slice(300).filter((d) => d.demand < 200);
    };
    // Outcomes over 3 steps: ratios 0.90–1.11 from the noise, 0.1 after a spike, about 10 at one.
    const median = run({ quantile: 0.5 });
    const p90 = run({ quantile: 0.9 });
    for (const d of median) expect(d.headroomFactor).toBeLessThanOrEqual(1.01);
    for (const d of p90) {
      expect(d.headroomFactor).toBeGreaterThanOrEqual(1.05);
      expect(d.headroomFactor).toBeLessThan(1.12);
    }
    expect(p90[0]?.reasons.join(' ')).toMatch(/covers 9\d % of the last 288 outcomes: the cost level q90\)/);
    for (const d of run({ quantile: 0.9, maxHeadroomFactor: 1.02 })) {
      expect(d.headroomFactor).toBe(1.02);
      expect(d.reasons.join(' ')).toMatch(/capped at 1\.02/);
    }
    expect(code(() => new ScalingPolicy({ ...base, maxHeadroomFactor: 0.8 }))).toBe('SLOTH_ERR_CONFIG: max headroom factor must be a finite number ≥ 1, got 0.8');
  });

  it('raises the headroom only as far as the spend of a reactive reference on the same demand affords, and does not hold scale-in while over', () => {
    const noise = [0, 3, -4, 5, -2, 1, -5, 4, -3, 2];
    const demand = (step: number): number => (step % 40 === 39 ? 1000 : 100 + (noise[step % noise.length] as number));
    const run = (settings: Partial<ScalingPolicySettings>): ReturnType<ScalingPolicy['decide']>[] => {
      const policy = new ScalingPolicy({ ...base, minHistorySteps: 1, ...settings });
      return Array.from({ length: 600 }, (_, step) => policy.decide({ timestampMillis: t0 + step * minute, demand: demand(step) }));
    };
    const held = (decisions: ReturnType<ScalingPolicy['decide']>[]): number => decisions.reduce((sum, d) => sum + d.replicas, 0);
    // The reference: 70 % aim, ±10 %, stabilisation as the policy's (3 steps), the same startup delay.
    const reference = new ReactiveReference({ capacityPerReplica: 10, startupSteps: 3, utilization: 0.7, tolerance: 0.1, stabilizationSteps: 3, initialReplicas: 1 });
    const referenceHeld = Array.from({ length: 600 }, (_, step) => reference.next(demand(step), 1, 100)).slice(300).reduce((sum, r) => sum + r, 0);
    expect(defaultSpendBudgetRatio).toBe(1.1);
    const bounded = run({}).slice(300);
    // Over the last 300 steps: within the budget up to rounding.
    expect(held(bounded)).toBeLessThan(1.1 * 1.05 * referenceHeld);
    // A generous budget affords the spikes (the whole window's outcomes), the default does not.
    const generous = run({ spendBudgetRatio: 20 }).slice(300);
    expect(generous.filter((d) => d.demand < 200).every((d) => (d.headroomFactor ?? 0) > 9)).toBe(true);
    expect(generous[0]?.reasons.join(' ')).toMatch(/covers 100 % of the last 288 outcomes: all of them, within the spend budget/);
    expect(bounded.filter((d) => d.demand < 200).every((d) => (d.headroomFactor ?? 0) < 1.2)).toBe(true);
    // A tight budget holds less than the default: it binds below the cost level too, and says so.
    const tight = run({ spendBudgetRatio: 0.7 }).slice(300);
    expect(held(tight)).toBeLessThan(held(bounded));
    expect(tight.some((d) => /the most that fits 0\.7× the reactive reference's spend, below the cost level q90/.test(d.reasons.join(' ')))).toBe(true);
    // Tighter than the reactive floor itself: the smallest past outcome is planned, the floor serves demand now, and
    // the step after a spike does not keep the spike's 100 replicas for the 3-step stabilisation window.
    const tighter = run({ spendBudgetRatio: 0.6 }).slice(300);
    expect(tighter[0]?.reasons.join(' ')).toMatch(/the smallest, over the spend budget even there/);
    const afterSpike = tighter.find((d) => d.step % 40 === 0 && (d.spendUsage ?? 0) > 1);
    expect(afterSpike?.previousReplicas).toBeGreaterThanOrEqual(100);
    expect(afterSpike?.replicas).toBeLessThan(30);
    expect(afterSpike?.reasons.join(' ')).toMatch(/scale-in not held by the stabilisation window: held \d\.\d\d× the spend budget/);
    // A budget so large that ratio × reference overflows never binds (and never turns its running sums into NaN).
    const huge = run({ spendBudgetRatio: Number.MAX_VALUE }).slice(300);
    expect(huge.filter((d) => d.demand < 200).every((d) => (d.headroomFactor ?? 0) > 9 && d.spendUsage === 0)).toBe(true);
    expect(code(() => new ScalingPolicy({ ...base, spendBudgetRatio: 0 }))).toBe('SLOTH_ERR_CONFIG: spend budget ratio must be a finite number > 0 (replicas per replica of the reactive reference), got 0');
  });

  it('with referenceFloor never requests fewer replicas than the reactive reference, budget or not; without it, may', () => {
    // Noisy demand with a spike every 40 steps, no forecasts: the policy's own floor is demand at 100 % utilisation.
    const demand = (step: number): number => (step % 40 === 0 ? 400 : 50 + 30 * Math.sin(step / 5));
    const settings = { ...base, minHistorySteps: 1, referenceUtilization: 0.7, referenceTolerance: 0.1, referenceStabilizationSteps: 3 };
    for (const spendBudgetRatio of [null, 1.1]) {
      const reference = new ReactiveReference({ capacityPerReplica: 10, startupSteps: 3, utilization: 0.7, tolerance: 0.1, stabilizationSteps: 3, initialReplicas: 1 });
      const floored = new ScalingPolicy({ ...settings, spendBudgetRatio, referenceFloor: true });
      const plain = new ScalingPolicy({ ...settings, spendBudgetRatio });
      let below = 0;
      let floorReasons = 0;
      for (let step = 0; step < 400; step += 1) {
        const observation = { timestampMillis: t0 + step * minute, demand: demand(step) };
        const wanted = reference.next(demand(step), 1, 100);
        const d = floored.decide(observation);
        expect(d.replicas).toBeGreaterThanOrEqual(wanted);
        if (/raised to \d+: the reactive reference requests \d+ now \(reference floor\)/.test(d.reasons.join(' '))) floorReasons += 1;
        if (plain.decide(observation).replicas < wanted) below += 1;
      }
      // The floor is not vacuous: the policy alone (at 100 % utilisation here) holds fewer than the reference at
      // times, and the floored policy says when the floor decided.
      expect(below).toBeGreaterThan(0);
      expect(floorReasons).toBeGreaterThan(0);
    }
  });

  it('keeps the replicas a forecast planned for a step still to come, when the stabilisation window would not', () => {
    // A spike of 600 every 40 steps, forecast exactly one startup (3 steps) ahead; a 1-step stabilisation
    // window does not hold the plan made 3 steps before the spike.
    const noise = [0, 3, -4, 5, -2, 1, -5, 4, -3, 2];
    const demand = (step: number): number => (step % 40 === 39 ? 600 : 100 + (noise[step % noise.length] as number));
    const run = (keepPlansAhead: boolean): ReturnType<ScalingPolicy['decide']>[] => {
      const policy = new ScalingPolicy({ ...base, maxReplicas: 1000, minHistorySteps: 1, scaleInStabilizationSteps: 1, keepPlansAhead });
      return Array.from({ length: 600 }, (_, step) => {
        const future = demand(step + 3);
        return policy.decide({ timestampMillis: t0 + step * minute, demand: demand(step), forecast: { p10: future, p50: future, p90: future } });
      });
    };
    // Replicas requested at step s serve from s + 3 if still held: what serves a spike at S is the least held over S-3…S-1.
    const servingAtSpikes = (decisions: ReturnType<ScalingPolicy['decide']>[]): number[] =>
      decisions.filter((d) => d.step >= 300 && d.step % 40 === 39).map((d) => Math.min(...decisions.slice(d.step - 3, d.step).map((e) => e.replicas)));
    const kept = run(true);
    const released = run(false);
    // Without the rule, the spike's replicas are dropped the step after they are planned.
    expect(Math.min(...servingAtSpikes(released))).toBeLessThan(20);
    // With it, the replicas planned three steps before the spike stay until it comes.
    expect(Math.min(...servingAtSpikes(kept))).toBeGreaterThanOrEqual(60);
    const afterPlan = kept.find((d) => d.step >= 300 && d.step % 40 === 37);
    expect(afterPlan?.reasons.join(' ')).toMatch(/scale-in held at \d+: planned on a forecast for a step still to come/);
    // Demand now is not a plan ahead: the step after the spike scales in to the quiet level.
    const afterSpike = kept.find((d) => d.step >= 300 && d.step % 40 === 0);
    expect(afterSpike?.replicas).toBeLessThan(15);
  });

  it('does not count the min replicas against the spend budget', () => {
    // Demand 1 with min 10 replicas: the policy and the reactive reference both hold the floor, and the budget
    // allows at least the floor, so the target is within budget and the stabilisation window holds scale-in
    // after a burst.
    const policy = new ScalingPolicy({ ...base, minReplicas: 10, minHistorySteps: 1 });
    const decisions = Array.from({ length: 80 }, (_, step) => policy.decide({ timestampMillis: t0 + step * minute, demand: step === 70 ? 300 : 1 }));
    expect(decisions[69]?.spendUsage).toBeCloseTo(10 / 11, 9);
    expect(decisions[70]?.replicas).toBe(30);
    expect(decisions[71]?.spendUsage).toBeLessThan(1);
    expect(decisions[71]?.replicas).toBe(30);
    expect(decisions[71]?.reasons.join(' ')).toMatch(/scale-in held at 30 by the 3-step stabilisation window/);
    expect(decisions[73]?.replicas).toBe(10);
  });

  it('rejects bad settings and input with errors naming the value', () => {
    expect(code(() => new ScalingPolicy({ ...base, minReplicas: -1 }))).toBe('SLOTH_ERR_CONFIG: min replicas must be an integer ≥ 0, got -1');
    expect(code(() => new ScalingPolicy({ ...base, maxReplicas: 0 }))).toBe('SLOTH_ERR_CONFIG: max replicas must be an integer ≥ 1, got 0');
    expect(code(() => new ScalingPolicy({ ...base, capacityPerReplica: 0 }))).toBe('SLOTH_ERR_CONFIG: capacity per replica must be a positive number, got 0');
    expect(code(() => new ScalingPolicy({ ...base, quantile: 0.95 }))).toBe('SLOTH_ERR_CONFIG: quantile must be within 0.5–0.9, got 0.95');
    expect(code(() => new ScalingPolicy({ ...base, referenceUtilization: 1.5 }))).toBe('SLOTH_ERR_CONFIG: reference utilisation must be within (0, 1], got 1.5');
    expect(code(() => new ScalingPolicy({ ...base, referenceStabilizationSteps: 0 }))).toBe('SLOTH_ERR_CONFIG: reference stabilisation steps must be an integer ≥ 1, got 0');
    expect(code(() => new ScalingPolicy(base).decide({ timestampMillis: t0, demand: -3 }))).toMatch(/^SLOTH_ERR_INPUT: demand must be a finite number ≥ 0, got -3/);
  });

  it('picks the quantile from the cost of under- vs over-provisioning, within p50…p90', () => {
    expect(quantileFromCosts(1, 1)).toBe(0.5);
    expect(quantileFromCosts(3, 1)).toBe(0.75);
    expect(quantileFromCosts(100, 1)).toBe(0.9);
    expect(quantileFromCosts(1, 5)).toBe(0.5);
  });

  it('applies time windows to min and max replicas', () => {
    const settings = { ...base, windows: [{ days: [1], fromHour: 8, toHour: 18, minReplicas: 5, maxReplicas: 20 }] };
    expect(boundsAt(settings, Date.UTC(2026, 0, 5, 9))).toEqual({ min: 5, max: 20 }); // a Monday
    expect(boundsAt(settings, Date.UTC(2026, 0, 6, 9))).toEqual({ min: 1, max: 100 }); // a Tuesday
    expect(boundsAt(settings, Date.UTC(2026, 0, 5, 18))).toEqual({ min: 1, max: 100 });
  });
});

describe('ReactiveReference', () => {
  it('replays a reactive autoscaler: tolerance band, startup delay, scale-in stabilisation', () => {
    const reference = new ReactiveReference({ capacityPerReplica: 10, startupSteps: 2, utilization: 0.7, tolerance: 0.1, stabilizationSteps: 2, initialReplicas: 1 });
    // 7 on one replica is exactly the aim; 70 asks for 10 (ready 2 steps later, paid from the request); within the
    // tolerance nothing changes; back at 7 the 2-step window holds 10 one step, then 1.
    expect([7, 70, 70, 70, 7, 7].map((d) => reference.next(d, 1, 100))).toEqual([1, 10, 10, 10, 10, 1]);
    // Bounds apply: at most 4 here.
    const bounded = new ReactiveReference({ capacityPerReplica: 10, startupSteps: 0, utilization: 0.7, tolerance: 0.1, stabilizationSteps: 1, initialReplicas: 1 });
    expect(bounded.next(700, 1, 4)).toBe(4);
  });
});

describe('HorizonForecaster periodic-naive candidate', () => {
  // White noise from a fixed linear congruential generator, so the test is deterministic.
  const noise = (seed: number): (() => number) => {
    let state = seed;
    return () => {
      state = (state * 1_103_515_245 + 12_345) % 2 ** 31;
      return state / 2 ** 31 - 0.5;
    };
  };

  it('finds an intra-day period from the series own autocorrelation and forecasts the spike one horizon ahead', () => {
    const next = noise(7);
    // Every 13 steps: not a divisor of the day (288 steps), so the daily seasonal candidates miss the spikes.
    const values = Array.from({ length: 800 }, (_, step) => (step % 13 === 6 ? 1000 : 100) + 10 * next());
    const run = (periodic: boolean): { forecaster: HorizonForecaster; atSpike: number[] } => {
      const forecaster = new HorizonForecaster({ horizonSteps: 2, seasonSteps: 288, periodic });
      const atSpike: number[] = [];
      values.forEach((value, step) => {
        forecaster.observe(value);
        // Issued at step, for step + 2.
        if (step >= 700 && (step + 2) % 13 === 6) atSpike.push(forecaster.forecast()?.p50 ?? 0);
      });
      return { forecaster, atSpike };
    };
    const on = run(true);
    expect(on.forecaster.periodSteps).toBe(13);
    expect(on.forecaster.forecast()?.model).toBe('periodic-naive');
    expect(Math.min(...on.atSpike)).toBeGreaterThan(900);
    const off = run(false);
    expect(off.forecaster.periodSteps).toBe(0);
    expect(Math.max(...off.atSpike)).toBeLessThan(500);
  });

  it('finds no period in white noise, so the candidate never forecasts', () => {
    const next = noise(11);
    const forecaster = new HorizonForecaster({ horizonSteps: 2, seasonSteps: 288, periodic: true });
    const models = new Set<string>();
    for (let step = 0; step < 1500; step += 1) {
      forecaster.observe(100 + 10 * next());
      if (step >= 576) {
        expect(forecaster.periodSteps).toBe(0);
        models.add(forecaster.forecast()?.model ?? 'none');
      }
    }
    expect(models.has('periodic-naive')).toBe(false);
  });
});

describe('parseTrace', () => {
  it('skips a header line, but refuses a first row with a timestamp and a bad demand instead of taking it for a header', () => {
    expect(parseTrace('timestamp,value\n1796600000,5\n1796600060,6\n').map((r) => r.demand)).toEqual([5, 6]);
    expect(() => parseTrace('1796600000,abc\n1796600060,5\n1796600120,5\n')).toThrow('trace line 1: demand "abc" must be a number ≥ 0');
  });
});

describe('sloth scale plan (planCsv)', () => {
  // Three days of a 5-minute daily cycle with a sharp morning ramp.
  const rows = Array.from({ length: 3 * 288 }, (_, i) => {
    const minuteOfDay = (i % 288) * 5;
    const value = minuteOfDay >= 480 && minuteOfDay < 1080 ? 400 : 100;
    return `${new Date(t0 + i * 5 * minute).toISOString().replace('T', ' ').slice(0, 19)},${value}`;
  });
  const trace = join(dir, 'demand.csv');
  writeFileSync(trace, `timestamp,value\n${rows.join('\n')}\n`);

  it('writes exactly timestamp,replicas, one row per input row, timestamps as given', async () => {
    const output = join(dir, 'plan.csv');
    await planCsv(trace, output, { capacityPerReplica: 50, startupSteps: 2 });
    const lines = readFileSync(output, 'utf8').trimEnd().split('\n');
    expect(lines[0]).toBe('timestamp,replicas');
    expect(lines).toHaveLength(rows.length + 1);
    lines.slice(1).forEach((line, i) => {
      const [timestamp, replicas] = line.split(',');
      expect(timestamp).toBe(rows[i]?.split(',')[0]);
      expect(Number.isInteger(Number(replicas)) && Number(replicas) >= 1).toBe(true);
    });
  });

  it('is causal: a prefix of the trace plans the same first rows', async () => {
    const prefix = join(dir, 'prefix.csv');
    writeFileSync(prefix, `timestamp,value\n${rows.slice(0, 400).join('\n')}\n`);
    await planCsv(trace, join(dir, 'full.csv'), { capacityPerReplica: 50, startupSteps: 2 });
    await planCsv(prefix, join(dir, 'part.csv'), { capacityPerReplica: 50, startupSteps: 2 });
    const full = readFileSync(join(dir, 'full.csv'), 'utf8').split('\n');
    const part = readFileSync(join(dir, 'part.csv'), 'utf8').trimEnd().split('\n');
    expect(part).toHaveLength(401);
    expect(part).toEqual(full.slice(0, 401));
  });

  it('on the third day, requests the morning capacity before the ramp arrives', async () => {
    const decisions = await planCsv(trace, join(dir, 'ahead.csv'), { capacityPerReplica: 50, startupSteps: 2 });
    const ramp = 2 * 288 + 96; // 08:00 on day three
    expect(decisions[ramp - 3]?.replicas).toBeLessThan(9);
    // Two steps ahead (the startup time), it asks for what serves 400 (the learnt headroom of a clean daily cycle is ≈ 1).
    expect(decisions[ramp - 2]?.replicas).toBeGreaterThanOrEqual(8);
    expect(decisions[ramp - 2]?.mode).toBe('predictive');
  });

  it('rejects a malformed trace naming the line and value', async () => {
    const bad = join(dir, 'bad.csv');
    writeFileSync(bad, 'timestamp,value\n2026-01-01 00:00:00,5\n2026-01-01 00:05:00,-2\n');
    await expect(planCsv(bad, join(dir, 'never.csv'), { capacityPerReplica: 1, startupSteps: 1 })).rejects.toThrow(/bad\.csv line 3: demand "-2" must be a number ≥ 0/);
  });
});
