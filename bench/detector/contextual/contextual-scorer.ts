import { ContextMemory, type ContextMemoryLimits } from './context-memory.js';

/**
 * Constants of the contextual detector: the published defaults of CAD OSE as NAB runs it. None was
 * searched on NAB data.
 */
export const contextualConstants = Object.freeze({
  /** Bits of the quantised value (2³ = 8 levels). */
  valueBits: 3,
  /** The raw score at which an alarm starts a rest period. */
  alarmScore: 0.75,
  limits: Object.freeze({ maxLeftFacts: 7, maxActiveContexts: 15, maxContexts: 50_000 }) satisfies ContextMemoryLimits,
  /** Rest after an alarm: a fifth of NAB's probation (15 % of the rows, at most 750), i.e. 3 %, at most 150 rows. */
  restShare: 0.03,
  maxRestRows: 150,
});

/**
 * How the value range that quantises the values is known:
 * - `file`: the whole file's minimum and maximum, handed over before the first row (what NAB gives
 *   its detectors; **not causal**, a diagnostic);
 * - `running`: the minimum and maximum of the rows so far (causal);
 * - `warmup`: those of the first `rows` rows, then fixed; later values are clipped (causal).
 */
export type RangeSource = { kind: 'file'; min: number; max: number } | { kind: 'running' } | { kind: 'warmup'; rows: number };

/**
 * How long the rest after an alarm lasts: `file`: 3 % of the file's rows (NAB's rule, needs the
 * length ahead); `seen`: 3 % of the rows seen so far (causal). Both at most 150 rows.
 */
export type RestSource = { kind: 'file'; rows: number } | { kind: 'seen' };

const levels = 2 ** contextualConstants.valueBits - 1;

/**
 * Scores one series row by row with a {@link ContextMemory}: each value is quantised to
 * `valueBits` bits against the range, each bit is a fact (its position and value); the raw score
 * is half of (1 − the share of applicable contexts that came true + the share of new contexts)
 * when the value differs from the prediction, else 0; after a raw score at or above `alarmScore`
 * the output rests at 0.
 */
export class ContextualScorer {
  private readonly memory = new ContextMemory(contextualConstants.limits);
  private rows = 0;
  private min = Infinity;
  private max = -Infinity;
  private predictions = new Set<number>();
  /** The row of the last raw score at or above `alarmScore` (0: the alarm CAD starts with, before the first row). */
  private lastAlarmRow = 0;

  constructor(
    private readonly range: RangeSource,
    private readonly rest: RestSource,
  ) {
    if (range.kind === 'file') {
      this.min = range.min;
      this.max = range.max;
    }
  }

  get contexts(): number {
    return this.memory.size;
  }

  private learnRange(value: number): void {
    if (this.range.kind === 'file' || (this.range.kind === 'warmup' && this.rows > this.range.rows)) return;
    if (value < this.min) this.min = value;
    if (value > this.max) this.max = value;
  }

  /** The value's level in [0, 2^bits − 1] against the range (clipped at its ends). */
  private level(value: number): number {
    const span = this.max - this.min;
    if (!(span > 0)) return 0;
    return Math.min(levels, Math.max(0, Math.floor(((value - this.min) / span) * levels)));
  }

  update(value: number): number {
    this.rows += 1;
    this.learnRange(value);
    const level = this.level(value);
    const facts: number[] = [];
    let missed = false;
    for (let bit = 0; bit < contextualConstants.valueBits; bit += 1) {
      const fact = bit * 2 + ((level >> bit) & 1);
      facts.push(fact);
      if (!this.predictions.has(fact)) missed = true;
    }
    const step = this.memory.step(facts);
    this.predictions = step.predictions;
    const raw = missed ? (1 - step.activeShare + step.novelShare) / 2 : 0;
    const basis = this.rest.kind === 'file' ? this.rest.rows : this.rows;
    const restRows = Math.min(contextualConstants.maxRestRows, Math.max(1, Math.round(contextualConstants.restShare * basis)));
    // Resting while an alarm lies within the previous `restRows` rows.
    const resting = this.lastAlarmRow >= this.rows - restRows;
    if (raw >= contextualConstants.alarmScore) this.lastAlarmRow = this.rows;
    return resting ? 0 : raw;
  }
}
