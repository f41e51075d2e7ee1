/**
 * Constants of the contextual detector: the published defaults of CAD OSE as NAB runs it. None was
 * searched on NAB data.
 */
export declare const contextualConstants: Readonly<{
    /** Bits of the quantised value (2³ = 8 levels). */
    valueBits: 3;
    /** The raw score at which an alarm starts a rest period. */
    alarmScore: 0.75;
    limits: Readonly<{
        maxLeftFacts: 7;
        maxActiveContexts: 15;
        maxContexts: 50000;
    }>;
    /** Rest after an alarm: a fifth of NAB's probation (15 % of the rows, at most 750), i.e. 3 %, at most 150 rows. */
    restShare: 0.03;
    maxRestRows: 150;
}>;
/**
 * How the value range that quantises the values is known:
 * - `file`: the whole file's minimum and maximum, handed over before the first row (what NAB gives
 *   its detectors; **not causal**, a diagnostic);
 * - `running`: the minimum and maximum of the rows so far (causal);
 * - `warmup`: those of the first `rows` rows, then fixed; later values are clipped (causal).
 */
export type RangeSource = {
    kind: 'file';
    min: number;
    max: number;
} | {
    kind: 'running';
} | {
    kind: 'warmup';
    rows: number;
};
/**
 * How long the rest after an alarm lasts: `file`: 3 % of the file's rows (NAB's rule, needs the
 * length ahead); `seen`: 3 % of the rows seen so far (causal). Both at most 150 rows.
 */
export type RestSource = {
    kind: 'file';
    rows: number;
} | {
    kind: 'seen';
};
/**
 * Scores one series row by row with a {@link ContextMemory}: each value is quantised to
 * `valueBits` bits against the range, each bit is a fact (its position and value); the raw score
 * is half of (1 − the share of applicable contexts that came true + the share of new contexts)
 * when the value differs from the prediction, else 0; after a raw score at or above `alarmScore`
 * the output rests at 0.
 */
export declare class ContextualScorer {
    private readonly range;
    private readonly rest;
    private readonly memory;
    private rows;
    private min;
    private max;
    private predictions;
    /** Raw scores of the most recent rows, newest last (an alarm before the first row, as CAD starts). */
    private readonly recentRaw;
    constructor(range: RangeSource, rest: RestSource);
    get contexts(): number;
    private learnRange;
    /** The value's level in [0, 2^bits − 1] against the range (clipped at its ends). */
    private level;
    update(value: number): number;
}
//# sourceMappingURL=contextual-scorer.d.ts.map