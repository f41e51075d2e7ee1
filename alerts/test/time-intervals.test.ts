import { describe, expect, it } from 'vitest';
import { compileTimeInterval } from '../src/time-intervals.js';

describe('time intervals', () => {
  it('evaluates times, weekday ranges and months in the given location', () => {
    const office = compileTimeInterval({ name: 'office', time_intervals: [{ weekdays: ['monday:friday'], times: [{ start_time: '09:00', end_time: '17:00' }], months: ['january:march'], location: 'Europe/Paris' }] });
    expect(office.contains(Date.UTC(2026, 0, 5, 8, 0))).toBe(true); // Monday 09:00 in Paris (UTC+1)
    expect(office.contains(Date.UTC(2026, 0, 5, 7, 59))).toBe(false); // 08:59 in Paris
    expect(office.contains(Date.UTC(2026, 0, 5, 16, 0))).toBe(false); // 17:00: end is exclusive
    expect(office.contains(Date.UTC(2026, 0, 10, 10, 0))).toBe(false); // Saturday
    expect(office.contains(Date.UTC(2026, 3, 6, 8, 0))).toBe(false); // April
  });

  it('counts negative days from the end of the month', () => {
    const lastDay = compileTimeInterval({ name: 'eom', time_intervals: [{ days_of_month: [-1] }] });
    expect(lastDay.contains(Date.UTC(2026, 1, 28, 12))).toBe(true); // 28 February 2026
    expect(lastDay.contains(Date.UTC(2026, 1, 27, 12))).toBe(false);
    expect(lastDay.contains(Date.UTC(2026, 0, 31, 0, 0))).toBe(true);
  });

  it('names the bad value', () => {
    expect(() => compileTimeInterval({ name: 'x', time_intervals: [{ times: [{ start_time: '9am', end_time: '17:00' }] }] })).toThrow('start_time "9am" is not a time of day HH:MM');
    expect(() => compileTimeInterval({ name: 'x', time_intervals: [{ weekdays: ['funday'] }] })).toThrow('weekday "funday" is not valid');
    expect(() => compileTimeInterval({ name: 'x', time_intervals: [{ location: 'Mars/Olympus' }] })).toThrow('location "Mars/Olympus" is not an IANA time zone');
  });
});
