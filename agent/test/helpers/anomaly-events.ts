import type { AnomalyEvent } from '@sloth/core';

/**
 * An `update` of a sustained CPU burn incident on host h1 (first seen 25 s before this event, far above
 * its expected band) at `score`, which is also the incident's peak score so far.
 */
export function cpuBurn(score: number): AnomalyEvent {
  return {
    seriesId: 'system.cpu.utilization{agent="h1"}',
    agentId: 'h1',
    metric: 'system.cpu.utilization',
    timestampMillis: 1_000_000 + 25_000,
    value: 0.97,
    score,
    expectedLow: 0.01,
    expectedHigh: 0.1,
    modelVersion: 'stats',
    incidentId: 'inc-1',
    state: 'update',
    direction: 'above',
    firstSeenMillis: 1_000_000,
    peakScore: score,
  };
}
