/** Dates and numbers as every renderer prints them, in the report's time zone. */

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(timezone: string): Intl.DateTimeFormat {
  let f = formatters.get(timezone);
  if (f === undefined) {
    f = new Intl.DateTimeFormat('en-GB', { timeZone: timezone, year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' });
    formatters.set(timezone, f);
  }
  return f;
}

/** Throws a clear error for a time zone the runtime does not know. */
export function checkTimezone(timezone: string): void {
  try {
    formatter(timezone);
  } catch {
    throw new RangeError(`--timezone ${JSON.stringify(timezone)} is not a known IANA time zone: use e.g. UTC, Europe/Paris, America/New_York`);
  }
}

function parts(millis: number, timezone: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const p of formatter(timezone).formatToParts(new Date(millis))) out[p.type] = p.value;
  return out;
}

/** `2026-01-05 14:00` in the time zone. */
export function formatDateTime(millis: number, timezone: string): string {
  const p = parts(millis, timezone);
  return `${p.year}-${p.month}-${p.day} ${p.hour}:${p.minute}`;
}

/** `2026-01-05` in the time zone. */
export function formatDate(millis: number, timezone: string): string {
  const p = parts(millis, timezone);
  return `${p.year}-${p.month}-${p.day}`;
}

/**
 * The wall-clock time in the zone, as if it were UTC: charts use UTC scales
 * on shifted times, so axis labels show the report's zone on any machine.
 */
export function wallClockMillis(millis: number, timezone: string): number {
  const p = parts(millis, timezone);
  return Date.UTC(Number(p.year), Number(p.month) - 1, Number(p.day), Number(p.hour), Number(p.minute)) + (millis % 60_000);
}

/** `12.3` or `-` for a missing value. */
export function num(value: number | null | undefined, digits = 1): string {
  return value === null || value === undefined || !Number.isFinite(value) ? '-' : value.toFixed(digits);
}

/** `+1.2` / `-0.4` / `-` : the change from the previous period. */
export function delta(current: number | null, previous: number | null, digits = 1): string {
  if (current === null || previous === null) return '-';
  const d = current - previous;
  return `${d >= 0 ? '+' : '-'}${Math.abs(d).toFixed(digits)}`;
}

export function formatDuration(millis: number | null): string {
  if (millis === null) return '-';
  if (millis < 1_000) return `${Math.round(millis)} ms`;
  if (millis < 120_000) return `${(millis / 1_000).toFixed(1)} s`;
  return `${(millis / 60_000).toFixed(1)} min`;
}

/** A span given in minutes: `42 min`, `5.5 h`, `3.2 d`; `-` for none. */
export function formatMinutes(minutes: number | null): string {
  if (minutes === null || !Number.isFinite(minutes)) return '-';
  if (minutes < 90) return `${Math.round(minutes)} min`;
  if (minutes < 48 * 60) return `${(minutes / 60).toFixed(1)} h`;
  return `${(minutes / 1_440).toFixed(1)} d`;
}
