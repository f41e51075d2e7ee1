/**
 * Causal drift test for slow monotone growth (a memory leak, a filling disk) that a per-sample
 * anomaly score misses because no single value is surprising.
 *
 * At each of a few window lengths L it takes the level shift `median(last L/2) − median(the L/2
 * before)` (medians, so one spike never looks like a trend) and standardises it by the series' own
 * typical shift at that length (an exponentially weighted mean absolute shift, updated with
 * winsorised shifts so a drift does not teach itself away). A series that wanders (a random walk,
 * a daily cycle) has large typical shifts and so needs a larger one to alarm: the test compares the
 * series with itself, not with white noise. It alarms when the standardised shift stays at or
 * beyond `zThreshold` for `confirmSamples` samples in a row, in one direction. With `awayFromLevel`,
 * a window counts only when its newer half lies further from the series' long-run level than its
 * older half: the end of a burst (a return to the usual level) is not a drift.
 */
export interface DriftOptions {
  /** Window lengths (even; each split in two halves). @defaultValue [10, 60] */
  windows: readonly number[];
  /** Standardised shift at which a window counts as drifting. @defaultValue 6 */
  zThreshold: number;
  /** Consecutive drifting samples (same direction) before the test alarms. @defaultValue 2 */
  confirmSamples: number;
  /** Shifts seen at a window before it may alarm (its typical shift must be learnt first). @defaultValue 120 */
  minReferenceSamples: number;
  /** Effective memory of the typical shift, in samples. @defaultValue 2000 */
  referenceSamples: number;
  /**
   * A window drifts only when the newer half's median lies further from the series' long-run level
   * (an exponentially weighted mean with the reference's memory, `referenceSamples`) than the older
   * half's: a leak or a fill moves away from it, the end of a burst moves back to it. @defaultValue false
   */
  awayFromLevel: boolean;
}

export const defaultDriftOptions: DriftOptions = Object.freeze({
  windows: Object.freeze<number[]>([10, 60]),
  zThreshold: 6,
  confirmSamples: 2,
  minReferenceSamples: 120,
  referenceSamples: 2_000,
  awayFromLevel: false,
});

/** What the test says about the newest value. */
export interface DriftOutput {
  /** Largest standardised shift over the windows, signed (0 until a window has learnt its reference). */
  z: number;
  /** The test alarms at this sample: a confirmed drift, and which way. */
  alarm: 'above' | 'below' | null;
  /** The level shift behind `z`, in the series' own units (median of the newer half minus the older; 0 with `z`). */
  shift: number;
}

/** Persisted form (JSON). */
export interface DriftSnapshot {
  format: 1;
  recent: number[];
  meanAbsShift: number[];
  shifts: number[];
  streak: number;
  /** The long-run level and the values folded into it (absent in snapshots written before it existed). */
  level?: number;
  levelSeen?: number;
}

export class DriftDetector {
  private readonly options: DriftOptions;
  private readonly capacity: number;
  /** The newest values, oldest first, at most the longest window. */
  private recent: number[] = [];
  /** Per window: EW mean of |shift| (its typical shift). */
  private meanAbsShift: number[];
  /** Per window: shifts folded into the reference so far. */
  private shifts: number[];
  /** Signed run of consecutive drifting samples (+ up, − down). */
  private streak = 0;
  /** EW mean of every value (memory `referenceSamples`): the level a drift must move away from. */
  private level = 0;
  private levelSeen = 0;

  constructor(options: Partial<DriftOptions> = {}) {
    this.options = { ...defaultDriftOptions, ...options };
    for (const w of this.options.windows) {
      if (!Number.isInteger(w) || w < 4 || w % 2 !== 0) throw new RangeError(`drift window lengths must be even integers ≥ 4, got ${w}`);
    }
    this.capacity = Math.max(...this.options.windows);
    this.meanAbsShift = this.options.windows.map(() => 0);
    this.shifts = this.options.windows.map(() => 0);
  }

  update(value: number): DriftOutput {
    if (!Number.isFinite(value)) return { z: 0, alarm: null, shift: 0 };
    this.recent.push(value);
    if (this.recent.length > this.capacity) this.recent.shift();
    const { windows, zThreshold, minReferenceSamples, referenceSamples, confirmSamples, awayFromLevel } = this.options;
    const level = this.levelSeen > 0 ? this.level : value;
    let strongest = 0;
    let strongestShift = 0;
    windows.forEach((w, i) => {
      if (this.recent.length < w) return;
      const half = w / 2;
      const end = this.recent.length;
      const shift = median(this.recent, end - half, end) - median(this.recent, end - w, end - half);
      const typical = (this.meanAbsShift[i] as number) * 1.2533; // mean |N(0, σ)| = σ·√(2/π)
      const seen = this.shifts[i] as number;
      let z = 0;
      if (typical > 0) z = shift / typical;
      else if (shift !== 0 && seen > 0) z = Math.sign(shift) * Infinity; // a flat series that moves
      if (seen >= minReferenceSamples && Math.abs(z) > Math.abs(strongest) && (Math.abs(z) < zThreshold || !awayFromLevel || movesAway(this.recent, end, w, level))) {
        strongest = z;
        strongestShift = shift;
      }
      // Winsorised: a drift adds at most 3 typical shifts to the reference, so it does not absorb itself.
      const folded = typical > 0 ? Math.min(Math.abs(shift), 3 * typical) : Math.abs(shift);
      const alpha = 1 / Math.min(seen + 1, referenceSamples);
      this.meanAbsShift[i] = (this.meanAbsShift[i] as number) + alpha * (folded - (this.meanAbsShift[i] as number));
      this.shifts[i] = seen + 1;
    });
    this.levelSeen += 1;
    this.level += (value - this.level) / Math.min(this.levelSeen, referenceSamples);
    const sign = Math.abs(strongest) >= zThreshold ? Math.sign(strongest) : 0;
    if (sign === 0) this.streak = 0;
    else if (Math.sign(this.streak) === sign) this.streak += sign;
    else this.streak = sign;
    const alarm = Math.abs(this.streak) >= confirmSamples ? (this.streak > 0 ? 'above' : 'below') : null;
    return { z: Number.isFinite(strongest) ? strongest : Math.sign(strongest) * 1e6, alarm, shift: strongestShift };
  }

  snapshot(): DriftSnapshot {
    return { format: 1, recent: [...this.recent], meanAbsShift: [...this.meanAbsShift], shifts: [...this.shifts], streak: this.streak, level: this.level, levelSeen: this.levelSeen };
  }

  /** Restores a snapshot taken with the same window lengths; anything else starts afresh. */
  restore(snapshot: DriftSnapshot | undefined | null): void {
    if (snapshot?.format !== 1 || snapshot.meanAbsShift.length !== this.options.windows.length || snapshot.shifts.length !== this.options.windows.length) return;
    this.recent = snapshot.recent.slice(-this.capacity);
    this.meanAbsShift = [...snapshot.meanAbsShift];
    this.shifts = [...snapshot.shifts];
    this.streak = snapshot.streak;
    this.level = snapshot.level ?? 0;
    this.levelSeen = snapshot.levelSeen ?? 0;
  }
}

/** Whether the newer half of the window ending at `end` lies further from `level` than the older half (medians). */
function movesAway(values: readonly number[], end: number, w: number, level: number): boolean {
  const half = w / 2;
  return Math.abs(median(values, end - half, end) - level) > Math.abs(median(values, end - w, end - half) - level);
}

/** Median of values[from, to) without touching the array. */
function median(values: readonly number[], from: number, to: number): number {
  const part = values.slice(from, to).sort((a, b) => a - b);
  const mid = part.length >> 1;
  return part.length % 2 === 1 ? (part[mid] as number) : ((part[mid - 1] as number) + (part[mid] as number)) / 2;
}
