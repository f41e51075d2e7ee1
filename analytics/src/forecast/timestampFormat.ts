/**
 * Writes timestamps the way a sample timestamp from the input was written: epoch seconds or
 * milliseconds, `YYYY-MM-DD HH:MM[:SS[.fff]]` (UTC, with ' ' or 'T'), or ISO 8601 with `Z` or an offset.
 */
export function timestampFormatter(sample: string): (millis: number) => string {
  const text = sample.trim();
  const epoch = /^\d{9,16}(\.(\d+))?$/.exec(text);
  if (epoch !== null) {
    const seconds = Number(text) < 1e11;
    const decimals = epoch[2]?.length ?? 0;
    return (millis) => (seconds ? (millis / 1000).toFixed(decimals) : (millis + 0).toFixed(decimals));
  }
  const m = /^\d{4}-\d{2}-\d{2}([ T])\d{2}:\d{2}(:\d{2}(\.(\d+))?)?(Z|[+-]\d{2}:?\d{2})?$/.exec(text);
  if (m === null) return (millis) => new Date(millis).toISOString();
  const separator = m[1] as string;
  const hasSeconds = m[2] !== undefined;
  const fractionDigits = m[4]?.length ?? 0;
  const zone = m[5];
  const offsetMillis = zone === undefined || zone === 'Z' ? 0 : parseOffsetMillis(zone);
  return (millis) => {
    const d = new Date(millis + offsetMillis);
    const pad = (v: number, w = 2): string => String(v).padStart(w, '0');
    let out = `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}${separator}${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}`;
    if (hasSeconds) out += `:${pad(d.getUTCSeconds())}`;
    if (hasSeconds && fractionDigits > 0) out += `.${pad(d.getUTCMilliseconds(), 3).padEnd(fractionDigits, '0').slice(0, fractionDigits)}`;
    return out + (zone ?? '');
  };
}

function parseOffsetMillis(zone: string): number {
  const sign = zone.startsWith('-') ? -1 : 1;
  const digits = zone.slice(1).replace(':', '');
  return sign * (Number(digits.slice(0, 2)) * 60 + Number(digits.slice(2, 4))) * 60_000;
}
