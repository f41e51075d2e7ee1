/**
 * A sequence memory of "contexts": pairs (left facts, right facts) where the right facts followed
 * the left ones one row later. This is the contextual idea of Smirnov's Contextual Anomaly
 * Detector (CAD OSE, NAB 2016), written for Sloth from its published description: facts are small
 * integers (quantised value bits and the ids of active contexts), a context predicts its right
 * facts whenever all its left facts are present, and how often a context's prediction held is
 * counted. Contexts split into left and right semi-contexts so that contexts sharing a side share
 * its bookkeeping.
 */

/** One side of a context: a sorted set of facts. */
interface SemiContext {
  facts: readonly number[];
  /** Facts of this semi-context present in the last crossing on its side. */
  matched: number[];
  /** Contexts by their right semi-context id (left semi-contexts only). */
  contexts: Map<number, number>;
}

/** A learned context and its prediction record. */
interface Context {
  /** Right facts expected while the left side was fully present (sum over those rows). */
  expected: number;
  /** Of those, right facts that came. */
  fulfilled: number;
  /** Rows on which the whole right side came. */
  activations: number;
  rightFacts: readonly number[];
  /** Set once the context was seen as a row-to-row transition (not only as a crossing of two). */
  zeroLevel: boolean;
}

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
export const contextFactBase = 1 << 24;

const keyOf = (facts: readonly number[]): string => facts.join(',');

class Side {
  readonly semis: SemiContext[] = [];
  private readonly byKey = new Map<string, number>();
  private readonly byFact = new Map<number, SemiContext[]>();
  /** Semi-contexts with at least one fact matched in the last crossing. */
  crossed: SemiContext[] = [];

  idOf(facts: readonly number[]): number {
    const key = keyOf(facts);
    const known = this.byKey.get(key);
    if (known !== undefined) return known;
    const id = this.semis.length;
    const semi: SemiContext = { facts, matched: [], contexts: new Map() };
    this.semis.push(semi);
    this.byKey.set(key, id);
    for (const fact of facts) {
      const list = this.byFact.get(fact);
      if (list === undefined) this.byFact.set(fact, [semi]);
      else list.push(semi);
    }
    return id;
  }

  /** Records, for every semi-context, which of `facts` it contains; returns those with any. */
  cross(facts: readonly number[]): SemiContext[] {
    for (const semi of this.crossed) semi.matched = [];
    const crossed: SemiContext[] = [];
    for (const fact of facts) {
      for (const semi of this.byFact.get(fact) ?? []) {
        if (semi.matched.length === 0) crossed.push(semi);
        semi.matched.push(fact);
      }
    }
    this.crossed = crossed;
    return crossed;
  }
}

/** The context memory of one series. Deterministic: the same facts in give the same steps out. */
export class ContextMemory {
  private readonly left = new Side();
  private readonly right = new Side();
  private readonly contexts: Context[] = [];
  /** The left side of the previous row: its sensor facts and its active contexts. */
  private previousLeft: number[] = [];
  /** Left semi-contexts crossed by `previousLeft` (kept from the previous row). */
  private previousCrossed: SemiContext[] = [];

  constructor(private readonly limits: ContextMemoryLimits) {}

  get size(): number {
    return this.contexts.length;
  }

  /** Finds or creates the context (left, right); returns its id and whether it was created. */
  private contextOf(leftFacts: readonly number[], rightFacts: readonly number[]): { id: number; created: boolean } | null {
    const leftId = this.left.idOf(leftFacts);
    const rightId = this.right.idOf(rightFacts);
    const leftSemi = this.left.semis[leftId]!;
    const known = leftSemi.contexts.get(rightId);
    if (known !== undefined) return { id: known, created: false };
    if (this.contexts.length >= this.limits.maxContexts) return null;
    const id = this.contexts.length;
    this.contexts.push({ expected: 0, fulfilled: 0, activations: 0, rightFacts, zeroLevel: false });
    leftSemi.contexts.set(rightId, id);
    return { id, created: true };
  }

  /** Feeds one row's sensor facts (sorted, distinct). */
  step(sensorFacts: readonly number[]): ContextStep {
    // 1. The transition previous row → this row is itself a context ("zero level").
    let transitionId = -1;
    let learning = false;
    const candidateKeys = new Set<string>();
    if (this.previousLeft.length > 0 && sensorFacts.length > 0) {
      candidateKeys.add(`${keyOf(this.previousLeft)}|${keyOf(sensorFacts)}`);
      const found = this.contextOf(this.previousLeft, sensorFacts);
      if (found !== null) {
        this.contexts[found.id]!.zeroLevel = true;
        if (found.created) {
          transitionId = found.id;
          learning = true;
        }
      }
    }

    // 2. Which right semi-contexts this row fulfils, and the record of every context whose left
    //    side the previous row fully held.
    this.right.cross(sensorFacts);
    const active: number[] = [];
    let selected = 0;
    const candidates: Array<[number[], number[]]> = [];
    for (const leftSemi of this.previousCrossed) {
      const fullLeft = leftSemi.matched.length === leftSemi.facts.length;
      for (const [rightId, contextId] of leftSemi.contexts) {
        if (contextId === transitionId) continue;
        const context = this.contexts[contextId]!;
        const rightSemi = this.right.semis[rightId]!;
        const rightMatched = rightSemi.matched.length;
        if (fullLeft) {
          selected += 1;
          context.expected += rightSemi.facts.length;
          context.fulfilled += rightMatched;
          if (rightMatched > 0 && rightMatched === rightSemi.facts.length) {
            context.activations += 1;
            active.push(contextId);
            continue;
          }
        }
        // A partial overlap of a transition context with this row is a candidate new context.
        if (context.zeroLevel && learning && rightMatched > 0 && leftSemi.matched.length <= this.limits.maxLeftFacts) {
          candidates.push([leftSemi.matched.slice(), rightSemi.matched.slice()]);
        }
      }
    }
    const activeShare = selected > 0 ? active.length / selected : 0;

    // 3. The most used active contexts join this row's sensor facts as the next left side.
    active.sort((a, b) => this.contexts[a]!.activations - this.contexts[b]!.activations || a - b);
    const nextLeft = new Set(sensorFacts);
    for (const id of active.slice(-this.limits.maxActiveContexts)) nextLeft.add(contextFactBase + id);
    this.previousLeft = [...nextLeft].sort((a, b) => a - b);

    // 4. Learn the crossings (partial overlaps of known contexts with this transition).
    let created = learning ? 1 : 0;
    for (const [leftFacts, rightFacts] of candidates) {
      candidateKeys.add(`${keyOf(leftFacts)}|${keyOf(rightFacts)}`);
      if (this.contextOf(leftFacts, rightFacts)?.created === true) created += 1;
    }
    const novelShare = learning && candidateKeys.size > 0 ? created / candidateKeys.size : 0;

    // 5. Predict: among contexts whose left side the new left side fully holds, the right facts of
    //    those with the best record.
    this.previousCrossed = this.left.cross(this.previousLeft);
    let best = 0;
    let bestContexts: number[] = [];
    for (const leftSemi of this.previousCrossed) {
      if (leftSemi.matched.length !== leftSemi.facts.length) continue;
      for (const contextId of leftSemi.contexts.values()) {
        const context = this.contexts[contextId]!;
        const weight = context.expected > 0 ? context.fulfilled / context.expected : 0;
        if (weight > best) {
          best = weight;
          bestContexts = [contextId];
        } else if (weight === best) {
          bestContexts.push(contextId);
        }
      }
    }
    const predictions = new Set<number>();
    for (const id of bestContexts) for (const fact of this.contexts[id]!.rightFacts) predictions.add(fact);
    return { predictions, activeShare, novelShare };
  }
}
