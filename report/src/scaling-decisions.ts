import type { ScalingDecisionRecord, ScalingTargetRecord } from './data.js';

/** Scaling decisions of the period per target, with what came of each. Pure. */

/**
 * What came of a decision: `acted` (the actuator scaled), `forecast-only`
 * (the target only records), `failed` (the actuator failed; the target stayed
 * where it was), `not acted` (act mode without an actuator), `held` (no change asked).
 */
export type ScalingOutcome = 'acted' | 'forecast-only' | 'failed' | 'not acted' | 'held';

export function scalingOutcome(d: ScalingDecisionRecord): ScalingOutcome {
  if (d.actuation?.kind === 'failure') return 'failed';
  if (d.action === 'hold') return 'held';
  if (d.acted) return 'acted';
  if (d.targetMode === 'forecast-only') return 'forecast-only';
  return 'not acted';
}

export interface ScalingDecisionRow {
  readonly target: string;
  readonly timestampMillis: number;
  readonly action: string;
  readonly previousReplicas: number;
  readonly replicas: number;
  readonly demand: number | null;
  readonly forecastValue: number | null;
  readonly outcome: ScalingOutcome;
  readonly reason: string;
}

export interface ScalingTargetSummary {
  readonly target: string;
  readonly mode: string;
  readonly demandSeries: string;
  readonly decisions: number;
  readonly scaleOut: number;
  readonly scaleIn: number;
  readonly held: number;
  readonly acted: number;
  readonly forecastOnly: number;
  readonly failed: number;
  /** Replicas asked for in the period, lowest and highest. */
  readonly replicasMin: number | null;
  readonly replicasMax: number | null;
  /** Set when the scheduler's kept decisions (the newest 1000) start after the period's start: the oldest kept. */
  readonly historyFromMillis: number | null;
}

export interface ScalingSection {
  readonly available: true;
  readonly targets: readonly ScalingTargetSummary[];
  /** Every decision of the period that asked for a change or failed (holds are counted per target, not listed). */
  readonly rows: readonly ScalingDecisionRow[];
}

export function scalingSection(targets: readonly ScalingTargetRecord[], fromMillis: number, toMillis: number): ScalingSection {
  const rows: ScalingDecisionRow[] = [];
  const summaries = targets.map((t): ScalingTargetSummary => {
    const own = t.decisions.filter((d) => d.timestampMillis >= fromMillis && d.timestampMillis <= toMillis);
    const outcomes = own.map(scalingOutcome);
    const tally = (o: ScalingOutcome): number => outcomes.filter((x) => x === o).length;
    own.forEach((d, i) => {
      const outcome = outcomes[i] as ScalingOutcome;
      if (outcome === 'held') return;
      rows.push({ target: t.name, timestampMillis: d.timestampMillis, action: d.action, previousReplicas: d.previousReplicas, replicas: d.replicas, demand: d.demand, forecastValue: d.forecastValue, outcome, reason: d.reasons.join('; ') });
    });
    const oldest = t.decisions[0]?.timestampMillis;
    return {
      target: t.name,
      mode: t.mode,
      demandSeries: t.demandSeries,
      decisions: own.length,
      scaleOut: own.filter((d) => d.action === 'scale-out').length,
      scaleIn: own.filter((d) => d.action === 'scale-in').length,
      held: own.filter((d) => d.action === 'hold').length,
      acted: tally('acted'),
      forecastOnly: tally('forecast-only'),
      failed: tally('failed'),
      replicasMin: own.length === 0 ? null : Math.min(...own.map((d) => d.replicas)),
      replicasMax: own.length === 0 ? null : Math.max(...own.map((d) => d.replicas)),
      historyFromMillis: t.truncated && oldest !== undefined && oldest > fromMillis ? oldest : null,
    };
  });
  rows.sort((a, b) => a.timestampMillis - b.timestampMillis || (a.target < b.target ? -1 : a.target > b.target ? 1 : 0));
  return { available: true, targets: summaries, rows };
}
