import { InputError } from '@sloth/core';
import type { TimeIntervalSpec } from './rules-schema.js';

/**
 * Alertmanager's time intervals: a named list of periods; an instant is in
 * the interval when it is in any period, and in a period when every field
 * given (times, weekdays, days of month, months, years) contains it.
 */
export interface TimeInterval {
  readonly name: string;
  contains(atMillis: number): boolean;
}

const weekdayNames = ['sunday', 'monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday'];
const monthNames = ['january', 'february', 'march', 'april', 'may', 'june', 'july', 'august', 'september', 'october', 'november', 'december'];

interface Parts {
  year: number;
  /** 1–12 */
  month: number;
  day: number;
  /** 0 = Sunday */
  weekday: number;
  minuteOfDay: number;
  daysInMonth: number;
}

interface Period {
  times?: Array<[number, number]>;
  weekdays?: Array<[number, number]>;
  daysOfMonth?: Array<[number, number]>;
  months?: Array<[number, number]>;
  years?: Array<[number, number]>;
  parts: (atMillis: number) => Parts;
}

function partsIn(location: string): (atMillis: number) => Parts {
  if (location === 'UTC' || location === 'Etc/UTC') {
    return (atMillis) => {
      const d = new Date(atMillis);
      const year = d.getUTCFullYear();
      const month = d.getUTCMonth() + 1;
      return { year, month, day: d.getUTCDate(), weekday: d.getUTCDay(), minuteOfDay: d.getUTCHours() * 60 + d.getUTCMinutes(), daysInMonth: new Date(Date.UTC(year, month, 0)).getUTCDate() };
    };
  }
  let format: Intl.DateTimeFormat;
  try {
    format = new Intl.DateTimeFormat('en-US', { timeZone: location, hourCycle: 'h23', year: 'numeric', month: 'numeric', day: 'numeric', weekday: 'long', hour: 'numeric', minute: 'numeric' });
  } catch {
    throw new InputError(`location ${JSON.stringify(location)} is not an IANA time zone (e.g. Europe/Paris, UTC)`, { value: location });
  }
  return (atMillis) => {
    const fields: Record<string, string> = {};
    for (const part of format.formatToParts(new Date(atMillis))) fields[part.type] = part.value;
    const year = Number(fields.year);
    const month = Number(fields.month);
    return {
      year,
      month,
      day: Number(fields.day),
      weekday: weekdayNames.indexOf((fields.weekday ?? '').toLowerCase()),
      minuteOfDay: Number(fields.hour) * 60 + Number(fields.minute),
      daysInMonth: new Date(Date.UTC(year, month, 0)).getUTCDate(),
    };
  };
}

function clock(text: string, what: string): number {
  const match = /^(\d{2}):(\d{2})$/.exec(text);
  const minutes = match === null ? Number.NaN : Number(match[1]) * 60 + Number(match[2]);
  if (!(minutes >= 0 && minutes <= 1440) || Number(match?.[2]) > 59) throw new InputError(`${what} ${JSON.stringify(text)} is not a time of day HH:MM (00:00–24:00)`, { value: text });
  return minutes;
}

function ranges(items: ReadonlyArray<string | number>, what: string, name: (token: string) => number | undefined, min: number, max: number): Array<[number, number]> {
  return items.map((item) => {
    const [from = '', to] = String(item).toLowerCase().split(':');
    const value = (token: string): number => {
      const named = name(token);
      const number = named ?? (/^-?\d+$/.test(token) ? Number(token) : Number.NaN);
      if (!(number >= min && number <= max) || number === 0 && min < 0) throw new InputError(`${what} ${JSON.stringify(item)} is not valid (${min}..${max}${min < 0 ? ', not 0' : ''} or a name)`, { value: item });
      return number;
    };
    return [value(from), value(to ?? from)];
  });
}

function inRanges(list: Array<[number, number]> | undefined, value: number): boolean {
  if (list === undefined) return true;
  for (const [from, to] of list) if (value >= from && value <= to) return true;
  return false;
}

function containsPeriod(period: Period, atMillis: number): boolean {
  const p = period.parts(atMillis);
  if (period.times !== undefined && !period.times.some(([start, end]) => p.minuteOfDay >= start && p.minuteOfDay < end)) return false;
  if (!inRanges(period.weekdays, p.weekday)) return false;
  if (period.daysOfMonth !== undefined) {
    // Negative days count from the end of the month (-1 is the last day).
    const resolved = period.daysOfMonth.map(([a, b]): [number, number] => [a < 0 ? p.daysInMonth + a + 1 : a, b < 0 ? p.daysInMonth + b + 1 : b]);
    if (!inRanges(resolved, p.day)) return false;
  }
  return inRanges(period.months, p.month) && inRanges(period.years, p.year);
}

/** Compiles one `time_intervals` entry; bad fields are {@link InputError}s naming the value. */
export function compileTimeInterval(spec: TimeIntervalSpec): TimeInterval {
  const periods: Period[] = spec.time_intervals.map((t) => {
    const period: Period = { parts: partsIn(t.location ?? 'UTC') };
    if (t.times !== undefined) period.times = t.times.map((r) => [clock(r.start_time, 'start_time'), clock(r.end_time, 'end_time')]);
    if (t.weekdays !== undefined) period.weekdays = ranges(t.weekdays, 'weekday', (w) => (weekdayNames.includes(w) ? weekdayNames.indexOf(w) : undefined), 0, 6);
    if (t.days_of_month !== undefined) period.daysOfMonth = ranges(t.days_of_month, 'day of month', () => undefined, -31, 31);
    if (t.months !== undefined) period.months = ranges(t.months, 'month', (m) => (monthNames.includes(m) ? monthNames.indexOf(m) + 1 : undefined), 1, 12);
    if (t.years !== undefined) period.years = ranges(t.years, 'year', () => undefined, 1970, 9999);
    return period;
  });
  return Object.freeze({ name: spec.name, contains: (atMillis: number) => periods.some((p) => containsPeriod(p, atMillis)) });
}
