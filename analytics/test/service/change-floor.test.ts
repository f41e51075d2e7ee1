import { describe, expect, it } from 'vitest';
import { ChangeFloor, defaultMinChange } from '../../src/service/change-floor.js';
import { ExcursionWatch } from '../../src/service/excursion.js';

describe('the floor on the size of a change', () => {
  it('gives each host metric family its floor, the first matching pattern winning, and no floor to an unknown metric', () => {
    const floor = new ChangeFloor(defaultMinChange);
    expect(floor.of('system.network.io')).toBe(1_048_576);
    expect(floor.of('system.disk.operations')).toBe(100);
    expect(floor.of('system.cpu.utilization')).toBe(0.05);
    expect(floor.of('system.filesystem.utilization')).toBe(0.05);
    expect(floor.of('system.memory.usage')).toBe(33_554_432);
    expect(floor.of('system.filesystem.usage')).toBe(104_857_600);
    expect(floor.of('shop.orders')).toBe(0);
    const custom = new ChangeFloor({ 'shop.*': 5, 'shop.orders': 50 });
    expect(custom.of('shop.orders')).toBe(5);
    expect(custom.of('shop.orders')).toBe(5); // cached answer is the same
  });

  it('refuses a floor that is not a finite number ≥ 0, naming the metric', () => {
    expect(() => new ChangeFloor({ 'system.network.io': -1 })).toThrow(/system\.network\.io.*-1/);
    expect(() => new ChangeFloor({ x: Number.NaN })).toThrow(/"x"/);
  });
});

describe('a confirmed excursion from the expected range', () => {
  const range = { expectedLow: 0.05, expectedHigh: 0.15 };

  it('is confirmed by the second value after a far candidate that stays beyond the old edge', () => {
    const watch = new ExcursionWatch(2);
    const series = {};
    expect(watch.observe(series, { value: 0.1, ...range })).toBeUndefined();
    expect(watch.observe(series, { value: 0.97, ...range })).toBeUndefined();
    // The detector's range follows the new level at once: the candidate's edge is what counts.
    expect(watch.observe(series, { value: 0.96, expectedLow: 0.92, expectedHigh: 1.02 })).toBeUndefined();
    expect(watch.observe(series, { value: 0.98, expectedLow: 0.92, expectedHigh: 1.02 })).toEqual({ direction: 'above', reference: 0.1, boundary: 0.15 });
  });

  it('never confirms a spike of one or two samples, nor a value beyond the range by less than its width, and goes below too', () => {
    const watch = new ExcursionWatch(2);
    const spike = {};
    for (const value of [0.97, 0.97, 0.1, 0.1, 0.1]) expect(watch.observe(spike, { value, ...range })).toBeUndefined();
    const near = {};
    for (let i = 0; i < 5; i += 1) expect(watch.observe(near, { value: 0.24, ...range })).toBeUndefined();
    const dip = {};
    expect(watch.observe(dip, { value: -0.2, ...range })).toBeUndefined();
    expect(watch.observe(dip, { value: 0.0, ...range })).toBeUndefined();
    expect(watch.observe(dip, { value: 0.01, ...range })).toMatchObject({ direction: 'below', boundary: 0.05 });
  });

  it('forgets a candidate when told (an incident is open), is off at 0 and refuses a bad count', () => {
    const watch = new ExcursionWatch(1);
    const series = {};
    expect(watch.observe(series, { value: 0.97, ...range })).toBeUndefined();
    watch.forget(series);
    expect(watch.observe(series, { value: 0.97, expectedLow: 0.9, expectedHigh: 1 })).toBeUndefined();
    const off = new ExcursionWatch(0);
    for (let i = 0; i < 4; i += 1) expect(off.observe(series, { value: 0.97, ...range })).toBeUndefined();
    expect(() => new ExcursionWatch(-1)).toThrow(/-1/);
    expect(() => new ExcursionWatch(1.5)).toThrow(/1\.5/);
  });
});
