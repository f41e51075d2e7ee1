/**
 * A sequence memory of "contexts": pairs (left facts, right facts) where the right facts followed
 * the left ones one row later. This is the contextual idea of Smirnov's Contextual Anomaly
 * Detector (CAD OSE, NAB 2016), written for Sloth from its published description: facts are small
 * integers (quantised value bits and the ids of active contexts), a context predicts its right
 * facts whenever all its left facts are present, and how often a context's prediction held is
 * counted. Contexts split into left and right semi-contexts so that contexts sharing a side share
 * its bookkeeping.
 */
/** What one row did to the memory (the raw material of the anomaly score). */
export interface ContextStep {
    /** Facts the memory predicts for the next row. */
    predictions: Set<number>;
    /** Of the contexts whose left side was fully present, the share whose right side fully came. */
    activeShare: number;
    /** Of the candidate contexts this row produced, the share that was new to the memory. */
    novelShare: number;
}
/** Limits of the memory. */
export interface ContextMemoryLimits {
    /** Longest left side a crossing may create (longer ones are too specific to recur). */
    maxLeftFacts: number;
    /** Active contexts fed back as facts of the next row's left side. */
    maxActiveContexts: number;
    /** Contexts the memory holds; once full it stops learning new ones (bounded state). */
    maxContexts: number;
}
/** Facts at or above this are context ids fed back ("neurons"); below are sensor facts. */
export declare const contextFactBase: number;
/** The context memory of one series. Deterministic: the same facts in give the same steps out. */
export declare class ContextMemory {
    private readonly limits;
    private readonly left;
    private readonly right;
    private readonly contexts;
    /** The left side of the previous row: its sensor facts and its active contexts. */
    private previousLeft;
    /** Left semi-contexts crossed by `previousLeft` (kept from the previous row). */
    private previousCrossed;
    constructor(limits: ContextMemoryLimits);
    get size(): number;
    /** Finds or creates the context (left, right); returns its id and whether it was created. */
    private contextOf;
    /** Feeds one row's sensor facts (sorted, distinct). */
    step(sensorFacts: readonly number[]): ContextStep;
}
//# sourceMappingURL=context-memory.d.ts.map