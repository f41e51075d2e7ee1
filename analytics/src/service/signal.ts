import type { SampleKind } from '@sloth/core';

/** What a counter series remembers of its previous raw point, to turn the next one into a rate. */
export interface CounterMemory {
  lastRawValue: number | null;
  lastRawMillis: number | null;
}

/** The value to score, or why there is none for this sample. */
export type SignalValue = { readonly value: number } | { readonly skip: 'first-point' | 'counter-reset' | 'no-interval' };

/**
 * Turns a raw sample into what a human would look at: gauges (and non-monotonic sums) as they are,
 * monotonic sums as a per-second rate. A cumulative counter that drops was reset (a restart): that
 * point is never a negative rate, only the new base. A delta point counts the interval since the
 * series' previous point, so its rate is value / that interval.
 */
export function signalValue(memory: CounterMemory, kind: SampleKind, timestampMillis: number, raw: number): SignalValue {
  if (kind === 'gauge') return { value: raw };
  const previousMillis = memory.lastRawMillis;
  const previousValue = memory.lastRawValue;
  memory.lastRawMillis = timestampMillis;
  memory.lastRawValue = raw;
  if (previousMillis === null || previousValue === null) return { skip: 'first-point' };
  const seconds = (timestampMillis - previousMillis) / 1_000;
  if (!(seconds > 0)) return { skip: 'no-interval' };
  if (kind === 'delta') return { value: Math.max(0, raw) / seconds };
  if (raw < previousValue) return { skip: 'counter-reset' };
  return { value: (raw - previousValue) / seconds };
}
