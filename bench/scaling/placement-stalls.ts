/**
 * Stall watch for the placement benchmark: event-loop delays and garbage
 * collections of one process, with wall-clock times, so a latency tail can
 * be matched to what the process was doing at that moment.
 */
import { PerformanceObserver, constants } from 'node:perf_hooks';

export interface Stall {
  kind: 'loop' | 'gc';
  /** When it began (ms since the epoch). */
  atMillis: number;
  millis: number;
  /** For a GC: minor, major, incremental or weak. */
  detail?: string;
}

const gcKinds: Record<number, string> = {
  [constants.NODE_PERFORMANCE_GC_MINOR]: 'minor',
  [constants.NODE_PERFORMANCE_GC_MAJOR]: 'major',
  [constants.NODE_PERFORMANCE_GC_INCREMENTAL]: 'incremental',
  [constants.NODE_PERFORMANCE_GC_WEAKCB]: 'weak',
};

/**
 * Watches this process until `stop()`: every GC (any length) and every event-loop delay of at
 * least `loopThresholdMillis` (sampled by a 5 ms timer, so a delay is known to ±5 ms).
 */
export function watchStalls(loopThresholdMillis: number): { stop: () => Stall[] } {
  const stalls: Stall[] = [];
  const observer = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      const kind = (entry as unknown as { detail?: { kind?: number } }).detail?.kind ?? -1;
      stalls.push({ kind: 'gc', atMillis: performance.timeOrigin + entry.startTime, millis: entry.duration, detail: gcKinds[kind] ?? String(kind) });
    }
  });
  observer.observe({ entryTypes: ['gc'] });
  const periodMillis = 5;
  let expected = Date.now() + periodMillis;
  const timer = setInterval(() => {
    const now = Date.now();
    const late = now - expected;
    if (late >= loopThresholdMillis) stalls.push({ kind: 'loop', atMillis: expected, millis: late });
    expected = now + periodMillis;
  }, periodMillis);
  return {
    stop: () => {
      clearInterval(timer);
      observer.disconnect();
      return stalls;
    },
  };
}
