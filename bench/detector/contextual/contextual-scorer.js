import { ContextMemory } from './context-memory.js';
/**
 * Constants of the contextual detector: the published defaults of CAD OSE as NAB runs it. None was
 * searched on NAB data.
 */
export const contextualConstants = Object.freeze({
    /** Bits of the quantised value (2³ = 8 levels). */
    valueBits: 3,
    /** The raw score at which an alarm starts a rest period. */
    alarmScore: 0.75,
    limits: Object.freeze({ maxLeftFacts: 7, maxActiveContexts: 15, maxContexts: 50_000 }),
    /** Rest after an alarm: a fifth of NAB's probation (15 % of the rows, at most 750), i.e. 3 %, at most 150 rows. */
    restShare: 0.03,
    maxRestRows: 150,
});
const levels = 2 ** contextualConstants.valueBits - 1;
/**
 * Scores one series row by row with a {@link ContextMemory}: each value is quantised to
 * `valueBits` bits against the range, each bit is a fact (its position and value); the raw score
 * is half of (1 − the share of applicable contexts that came true + the share of new contexts)
 * when the value differs from the prediction, else 0; after a raw score at or above `alarmScore`
 * the output rests at 0.
 */
export class ContextualScorer {
    range;
    rest;
    memory = new ContextMemory(contextualConstants.limits);
    rows = 0;
    min = Infinity;
    max = -Infinity;
    predictions = new Set();
    /** Raw scores of the most recent rows, newest last (an alarm before the first row, as CAD starts). */
    recentRaw = [1];
    constructor(range, rest) {
        this.range = range;
        this.rest = rest;
        if (range.kind === 'file') {
            this.min = range.min;
            this.max = range.max;
        }
    }
    get contexts() {
        return this.memory.size;
    }
    learnRange(value) {
        if (this.range.kind === 'file' || (this.range.kind === 'warmup' && this.rows > this.range.rows))
            return;
        if (value < this.min)
            this.min = value;
        if (value > this.max)
            this.max = value;
    }
    /** The value's level in [0, 2^bits − 1] against the range (clipped at its ends). */
    level(value) {
        const span = this.max - this.min;
        if (!(span > 0))
            return 0;
        return Math.min(levels, Math.max(0, Math.floor(((value - this.min) / span) * levels)));
    }
    update(value) {
        this.rows += 1;
        this.learnRange(value);
        const level = this.level(value);
        const facts = [];
        let missed = false;
        for (let bit = 0; bit < contextualConstants.valueBits; bit += 1) {
            const fact = bit * 2 + ((level >> bit) & 1);
            facts.push(fact);
            if (!this.predictions.has(fact))
                missed = true;
        }
        const step = this.memory.step(facts);
        this.predictions = step.predictions;
        const raw = missed ? (1 - step.activeShare + step.novelShare) / 2 : 0;
        const basis = this.rest.kind === 'file' ? this.rest.rows : this.rows;
        const restRows = Math.min(contextualConstants.maxRestRows, Math.max(1, Math.round(contextualConstants.restShare * basis)));
        const resting = this.recentRaw.slice(-restRows).some((r) => r >= contextualConstants.alarmScore);
        this.recentRaw.push(raw);
        if (this.recentRaw.length > contextualConstants.maxRestRows)
            this.recentRaw.shift();
        return resting ? 0 : raw;
    }
}
//# sourceMappingURL=contextual-scorer.js.map