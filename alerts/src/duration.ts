import { InputError } from '@sloth/core';

const unitMillis: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

/**
 * Parses a Prometheus-style duration (`30s`, `5m`, `1h30m`, `0`) into
 * milliseconds. A bare number is seconds, as in Prometheus rule files.
 */
export function parseDurationMillis(text: string | number, what = 'duration'): number {
  if (typeof text === 'number') {
    if (Number.isFinite(text) && text >= 0) return text * 1000;
    throw new InputError(`${what} ${text} is not a non-negative number of seconds`, { value: text });
  }
  const trimmed = text.trim();
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Number(trimmed) * 1000;
  const parts = [...trimmed.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h|d|w)/g)];
  const rebuilt = parts.map((p) => p[0]).join('');
  if (parts.length === 0 || rebuilt !== trimmed) {
    throw new InputError(`${what} ${JSON.stringify(text)} is not a duration: write e.g. 30s, 5m, 1h30m or 2d`, { value: text });
  }
  return parts.reduce((sum, p) => sum + Number(p[1]) * (unitMillis[p[2] as string] as number), 0);
}

/** `90000` → `1m30s`; the inverse of {@link parseDurationMillis} for whole seconds. */
export function formatDuration(millis: number): string {
  if (millis <= 0) return '0s';
  if (millis % 1000 !== 0) return `${millis}ms`;
  let seconds = millis / 1000;
  let text = '';
  for (const [unit, size] of [['d', 86_400], ['h', 3600], ['m', 60], ['s', 1]] as const) {
    const count = Math.floor(seconds / size);
    if (count > 0) text += `${count}${unit}`;
    seconds -= count * size;
  }
  return text;
}
