/**
 * The last `capacity` values of a stream, kept both in arrival order (a ring) and sorted, so the
 * median, the median absolute deviation and ranks cost O(capacity) per row without allocation.
 */
export class RobustWindow {
  private readonly ring: Float64Array;
  private readonly sorted: Float64Array;
  private head = 0;
  private size = 0;

  constructor(readonly capacity: number) {
    this.ring = new Float64Array(capacity);
    this.sorted = new Float64Array(capacity);
  }

  get count(): number {
    return this.size;
  }

  push(value: number): void {
    if (this.size === this.capacity) {
      const oldest = this.ring[this.head] as number;
      const at = this.lowerBound(oldest);
      this.sorted.copyWithin(at, at + 1, this.size);
      this.size -= 1;
    }
    this.ring[this.head] = value;
    this.head = (this.head + 1) % this.capacity;
    const at = this.lowerBound(value);
    this.sorted.copyWithin(at + 1, at, this.size);
    this.sorted[at] = value;
    this.size += 1;
  }

  /** Keeps only the most recent `keep` values (re-baselining after a level shift). */
  keepLast(keep: number): void {
    const values = this.values();
    this.clear();
    for (const v of values.slice(Math.max(0, values.length - keep))) this.push(v);
  }

  clear(): void {
    this.head = 0;
    this.size = 0;
  }

  /** Values oldest first (for snapshots). */
  values(): number[] {
    const out: number[] = [];
    const start = this.size === this.capacity ? this.head : 0;
    for (let i = 0; i < this.size; i += 1) out.push(this.ring[(start + i) % this.capacity] as number);
    return out;
  }

  median(): number {
    const n = this.size;
    if (n === 0) return Number.NaN;
    const mid = n >> 1;
    return n % 2 === 1 ? (this.sorted[mid] as number) : 0.5 * ((this.sorted[mid - 1] as number) + (this.sorted[mid] as number));
  }

  /**
   * Median of |v − center| over the window: the sorted array is walked outwards from `center`,
   * taking the nearer side each step, until half the values are taken.
   */
  medianAbsDeviation(center: number): number {
    const n = this.size;
    if (n === 0) return Number.NaN;
    let right = this.lowerBound(center);
    let left = right - 1;
    const want = (n >> 1) + 1;
    let previous = 0;
    let last = 0;
    for (let taken = 0; taken < want; taken += 1) {
      const dl = left >= 0 ? center - (this.sorted[left] as number) : Number.POSITIVE_INFINITY;
      const dr = right < n ? (this.sorted[right] as number) - center : Number.POSITIVE_INFINITY;
      previous = last;
      if (dl <= dr) {
        last = dl;
        left -= 1;
      } else {
        last = dr;
        right += 1;
      }
    }
    return n % 2 === 1 ? last : 0.5 * (previous + last);
  }

  /** Mean absolute deviation from `center` (the fallback scale when more than half the values tie). */
  meanAbsDeviation(center: number): number {
    let sum = 0;
    for (let i = 0; i < this.size; i += 1) sum += Math.abs((this.sorted[i] as number) - center);
    return this.size === 0 ? Number.NaN : sum / this.size;
  }

  /** Fraction of kept values strictly below `value` plus half of those equal (mid-rank), in [0, 1]. */
  rankFraction(value: number): number {
    if (this.size === 0) return 0.5;
    const below = this.lowerBound(value);
    let above = below;
    while (above < this.size && (this.sorted[above] as number) === value) above += 1;
    return (below + 0.5 * (above - below)) / this.size;
  }

  /** First index in the sorted part whose value is ≥ `value`. */
  private lowerBound(value: number): number {
    let lo = 0;
    let hi = this.size;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if ((this.sorted[mid] as number) < value) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}
