/** An expected range of the detector (null edges while it is still learning). */
export interface ExpectedRange {
  low: number | null;
  high: number | null;
}

interface Ring {
  lows: Array<number | null>;
  highs: Array<number | null>;
  /** Slot the next range goes to. */
  next: number;
  count: number;
}

/**
 * The detector's expected range over each series' last `samples` values, so a drift can be compared
 * with the range the series had before it (analytics `driftOpens: beyondRangeBefore`): the range a
 * drift test window ago, before the shift it alarms on. Not persisted: after a restart it fills again,
 * and until it is full the oldest range kept stands in.
 */
export class RangeMemory {
  private readonly samples: number;
  /** Per series (its state object). */
  private readonly rings = new WeakMap<object, Ring>();

  /** @param samples how many samples back the range is kept (the drift test's longest window). */
  constructor(samples: number) {
    if (!(Number.isInteger(samples) && samples >= 1)) throw new RangeError(`range memory length must be an integer ≥ 1, got ${samples}`);
    this.samples = samples;
  }

  /**
   * Returns the oldest range kept for the series (`samples` values back once full; undefined before its
   * first value), then keeps this value's range.
   */
  next(series: object, range: ExpectedRange): ExpectedRange | undefined {
    let ring = this.rings.get(series);
    if (ring === undefined) {
      ring = { lows: new Array<number | null>(this.samples).fill(null), highs: new Array<number | null>(this.samples).fill(null), next: 0, count: 0 };
      this.rings.set(series, ring);
    }
    const oldest = ring.count === 0 ? undefined : ring.count < this.samples ? 0 : ring.next;
    const before = oldest === undefined ? undefined : { low: ring.lows[oldest] ?? null, high: ring.highs[oldest] ?? null };
    ring.lows[ring.next] = range.low;
    ring.highs[ring.next] = range.high;
    ring.next = (ring.next + 1) % this.samples;
    ring.count = Math.min(this.samples, ring.count + 1);
    return before;
  }
}
