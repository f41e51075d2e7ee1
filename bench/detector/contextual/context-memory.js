/**
 * A sequence memory of "contexts": pairs (left facts, right facts) where the right facts followed
 * the left ones one row later. This is the contextual idea of Smirnov's Contextual Anomaly
 * Detector (CAD OSE, NAB 2016), written for Sloth from its published description: facts are small
 * integers (quantised value bits and the ids of active contexts), a context predicts its right
 * facts whenever all its left facts are present, and how often a context's prediction held is
 * counted. Contexts split into left and right semi-contexts so that contexts sharing a side share
 * its bookkeeping.
 */
/** Facts at or above this are context ids fed back ("neurons"); below are sensor facts. */
export const contextFactBase = 1 << 24;
const keyOf = (facts) => facts.join(',');
class Side {
    semis = [];
    byKey = new Map();
    byFact = new Map();
    /** Semi-contexts with at least one fact matched in the last crossing. */
    crossed = [];
    idOf(facts) {
        const key = keyOf(facts);
        const known = this.byKey.get(key);
        if (known !== undefined)
            return known;
        const id = this.semis.length;
        const semi = { facts, matched: [], contexts: new Map() };
        this.semis.push(semi);
        this.byKey.set(key, id);
        for (const fact of facts) {
            const list = this.byFact.get(fact);
            if (list === undefined)
                this.byFact.set(fact, [semi]);
            else
                list.push(semi);
        }
        return id;
    }
    /** Records, for every semi-context, which of `facts` it contains; returns those with any. */
    cross(facts) {
        for (const semi of this.crossed)
            semi.matched = [];
        const crossed = [];
        for (const fact of facts) {
            for (const semi of this.byFact.get(fact) ?? []) {
                if (semi.matched.length === 0)
                    crossed.push(semi);
                semi.matched.push(fact);
            }
        }
        this.crossed = crossed;
        return crossed;
    }
}
/** The context memory of one series. Deterministic: the same facts in give the same steps out. */
export class ContextMemory {
    limits;
    left = new Side();
    right = new Side();
    contexts = [];
    /** The left side of the previous row: its sensor facts and its active contexts. */
    previousLeft = [];
    /** Left semi-contexts crossed by `previousLeft` (kept from the previous row). */
    previousCrossed = [];
    constructor(limits) {
        this.limits = limits;
    }
    get size() {
        return this.contexts.length;
    }
    /** Finds or creates the context (left, right); returns its id and whether it was created. */
    contextOf(leftFacts, rightFacts) {
        const leftId = this.left.idOf(leftFacts);
        const rightId = this.right.idOf(rightFacts);
        const leftSemi = this.left.semis[leftId];
        const known = leftSemi.contexts.get(rightId);
        if (known !== undefined)
            return { id: known, created: false };
        if (this.contexts.length >= this.limits.maxContexts)
            return null;
        const id = this.contexts.length;
        this.contexts.push({ expected: 0, fulfilled: 0, activations: 0, rightFacts, zeroLevel: false });
        leftSemi.contexts.set(rightId, id);
        return { id, created: true };
    }
    /** Feeds one row's sensor facts (sorted, distinct). */
    step(sensorFacts) {
        // 1. The transition previous row → this row is itself a context ("zero level").
        let transitionId = -1;
        let learning = false;
        const candidateKeys = new Set();
        if (this.previousLeft.length > 0 && sensorFacts.length > 0) {
            candidateKeys.add(`${keyOf(this.previousLeft)}|${keyOf(sensorFacts)}`);
            const found = this.contextOf(this.previousLeft, sensorFacts);
            if (found !== null) {
                this.contexts[found.id].zeroLevel = true;
                if (found.created) {
                    transitionId = found.id;
                    learning = true;
                }
            }
        }
        // 2. Which right semi-contexts this row fulfils, and the record of every context whose left
        //    side the previous row fully held.
        this.right.cross(sensorFacts);
        const active = [];
        let selected = 0;
        const candidates = [];
        for (const leftSemi of this.previousCrossed) {
            const fullLeft = leftSemi.matched.length === leftSemi.facts.length;
            for (const [rightId, contextId] of leftSemi.contexts) {
                if (contextId === transitionId)
                    continue;
                const context = this.contexts[contextId];
                const rightSemi = this.right.semis[rightId];
                const rightMatched = rightSemi.matched.length;
                const mayCross = context.zeroLevel && learning && rightMatched > 0 && leftSemi.matched.length <= this.limits.maxLeftFacts;
                if (fullLeft) {
                    selected += 1;
                    context.expected += rightSemi.facts.length;
                    if (rightMatched === 0)
                        continue;
                    context.fulfilled += rightMatched;
                    if (rightMatched === rightSemi.facts.length) {
                        context.activations += 1;
                        active.push(contextId);
                    }
                    else if (mayCross) {
                        candidates.push([leftSemi.matched.slice(), rightSemi.matched.slice()]);
                    }
                }
                else if (mayCross) {
                    candidates.push([leftSemi.matched.slice(), rightSemi.matched.slice()]);
                }
            }
        }
        const activeShare = selected > 0 ? active.length / selected : 0;
        // 3. The most used active contexts join this row's sensor facts as the next left side.
        active.sort((a, b) => this.contexts[a].activations - this.contexts[b].activations || a - b);
        const nextLeft = new Set(sensorFacts);
        for (const id of active.slice(-this.limits.maxActiveContexts))
            nextLeft.add(contextFactBase + id);
        this.previousLeft = [...nextLeft].sort((a, b) => a - b);
        // 4. Learn the crossings (partial overlaps of known contexts with this transition).
        let created = learning ? 1 : 0;
        for (const [leftFacts, rightFacts] of candidates) {
            candidateKeys.add(`${keyOf(leftFacts)}|${keyOf(rightFacts)}`);
            if (this.contextOf(leftFacts, rightFacts)?.created === true)
                created += 1;
        }
        const novelShare = learning && candidateKeys.size > 0 ? created / candidateKeys.size : 0;
        // 5. Predict: among contexts whose left side the new left side fully holds, the right facts of
        //    those with the best record.
        this.previousCrossed = this.left.cross(this.previousLeft);
        let best = 0;
        let bestContexts = [];
        for (const leftSemi of this.previousCrossed) {
            if (leftSemi.matched.length !== leftSemi.facts.length)
                continue;
            for (const contextId of leftSemi.contexts.values()) {
                const context = this.contexts[contextId];
                const weight = context.expected > 0 ? context.fulfilled / context.expected : 0;
                if (weight > best) {
                    best = weight;
                    bestContexts = [contextId];
                }
                else if (weight === best) {
                    bestContexts.push(contextId);
                }
            }
        }
        const predictions = new Set();
        for (const id of bestContexts)
            for (const fact of this.contexts[id].rightFacts)
                predictions.add(fact);
        return { predictions, activeShare, novelShare };
    }
}
//# sourceMappingURL=context-memory.js.map