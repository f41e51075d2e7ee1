import { describe, expect, it } from 'vitest';
import { Pacer, type Pace, type PacerClock } from '../src/pacer.js';
import { trainModel } from '../src/detector/train.js';
import { forecastSeries } from '../src/forecast/forecastSeries.js';

/** A clock that only moves when the test works or the pacer sleeps; sleeps are recorded. */
function fakeClock(): PacerClock & { work(millis: number): void; sleeps: number[]; sleeping?: () => void } {
  let now = 0;
  const clock = {
    sleeps: [] as number[],
    now: () => now,
    work: (millis: number) => {
      now += millis;
    },
    sleep: async (millis: number, signal: AbortSignal) => {
      clock.sleeps.push(millis);
      if (signal.aborted) return;
      now += millis;
    },
  };
  return clock;
}

/** Counts the pace points long work offers. */
class CountingPace implements Pace {
  calls = 0;
  async breathe(): Promise<void> {
    this.calls += 1;
  }
}

describe('Pacer (duty cycle in fine slices)', () => {
  it('rests slice·(1/d − 1) after each slice of work, and never lets more than a slice plus one step pass unrested', async () => {
    const clock = fakeClock();
    const pacer = new Pacer(0.05, { sliceMillis: 10, clock });
    let busy = 0;
    let worstBusy = 0;
    for (let step = 0; step < 200; step++) {
      clock.work(3);
      busy += 3;
      const sleptBefore = clock.sleeps.length;
      await pacer.breathe();
      if (clock.sleeps.length > sleptBefore) {
        worstBusy = Math.max(worstBusy, busy);
        // The rest matches the work it follows: 12 ms of work at d = 0.05 rests 228 ms.
        expect(clock.sleeps.at(-1)).toBeCloseTo(busy * 19, 6);
        busy = 0;
      }
    }
    expect(worstBusy).toBeLessThanOrEqual(10 + 3);
    // Rests come through the work, not only at its end: one per 12 ms of work.
    expect(clock.sleeps.length).toBe(50);
    // Over the whole run the work is 5 % of the time, whatever the step size.
    const work = 200 * 3;
    await pacer.finish();
    expect(work / (work + pacer.restedMillis)).toBeCloseTo(0.05, 6);
  });

  it('rests for the remainder on finish, not at all at d = 1, and stops resting once hurried', async () => {
    const clock = fakeClock();
    const pacer = new Pacer(0.5, { sliceMillis: 10, clock });
    clock.work(4);
    await pacer.breathe();
    expect(clock.sleeps).toEqual([]);
    await pacer.finish();
    expect(clock.sleeps).toEqual([4]);
    expect(pacer.restedMillis).toBe(4);

    const unpacedClock = fakeClock();
    const full = new Pacer(1, { clock: unpacedClock });
    unpacedClock.work(500);
    await full.breathe();
    await full.finish();
    expect(unpacedClock.sleeps).toEqual([]);

    const hurriedClock = fakeClock();
    const hurried = new Pacer(0.01, { sliceMillis: 10, clock: hurriedClock });
    hurried.hurry();
    hurriedClock.work(50);
    await hurried.breathe();
    await hurried.finish();
    expect(hurried.restedMillis).toBe(0);
  });

  it('refuses a duty cycle outside (0, 1] and a slice that is not positive, naming the value', () => {
    expect(() => new Pacer(0)).toThrow(/duty cycle must be in \(0, 1\], got 0/);
    expect(() => new Pacer(1.5)).toThrow(/got 1.5/);
    expect(() => new Pacer(Number.NaN)).toThrow(/got NaN/);
    expect(() => new Pacer(0.5, { sliceMillis: 0 })).toThrow(/slice must be a positive number of milliseconds, got 0/);
  });
});

describe('pace points of model work', () => {
  it('detector training offers a pace point at every batch, and pacing leaves the model unchanged', async () => {
    const values = Array.from({ length: 300 }, (_, i) => 10 + Math.sin(i / 7) + (i % 5) / 10);
    const request = { kind: 'mlp-forecaster' as const, version: 1, values, lagRows: 6, seasonalLagRows: 0, hiddenUnits: 4, epochs: 3, seed: 3 };
    const counting = new CountingPace();
    const paced = await trainModel(request, counting);
    // 294 rows in batches of 64: 5 batches per epoch.
    expect(counting.calls).toBe(3 * 5);
    expect(paced.weightDataBase64).toBe((await trainModel(request)).weightDataBase64);
    // A real pacer at a duty cycle rests, and the result is still the same.
    const pacer = new Pacer(0.5, { sliceMillis: 1 });
    expect((await trainModel(request, pacer)).weightDataBase64).toBe(paced.weightDataBase64);
    await pacer.finish();
    expect(pacer.restedMillis).toBeGreaterThan(0);
  }, 60_000);

  it('a forecast offers pace points between model fits and at every batch of its neural model', async () => {
    const timestamps = Array.from({ length: 400 }, (_, i) => i * 60_000);
    const values = timestamps.map((_, i) => 50 + 10 * Math.sin((2 * Math.PI * i) / 60) + (i % 7));
    const statistical = new CountingPace();
    const withoutMlp = await forecastSeries(timestamps, values, 12, { models: ['seasonal-naive', 'holt-winters', 'ets', 'seasonal-profile'] }, statistical);
    expect(statistical.calls).toBe(4);
    const all = new CountingPace();
    const withMlp = await forecastSeries(timestamps, values, 12, { mlpEpochs: 2 }, all);
    expect(all.calls).toBeGreaterThan(4 + 2);
    expect(withMlp).toEqual(await forecastSeries(timestamps, values, 12, { mlpEpochs: 2 }));
    expect(withoutMlp.points).toHaveLength(12);
  }, 60_000);
});
