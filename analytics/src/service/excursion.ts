/**
 * A level shift far outside the detector's expected range that stays there: the CPU that jumps to
 * saturation and remains. The detector's score usually catches it at once, but not always: after
 * any firing (an incident or a blip under the threshold) the detector damps its surprise for a few
 * hundred samples, and a value merely outside all it has seen scores 0.667, under the threshold.
 * In the replay benchmark's tuning seeds such a saturation waited 3–4 samples for the drift test.
 * This test needs no score: a value beyond the expected range by at least the range's own width
 * (the range is the best prediction ± 4 error scales, so about 12 scales from it) is a candidate,
 * and it is confirmed when the next `confirmSamples` values all stay beyond the range's edge as it
 * stood at the candidate. A spike of one or two samples is never confirmed.
 */
export interface RangeSample {
  value: number;
  expectedLow: number | null;
  expectedHigh: number | null;
}

/** A confirmed excursion: which way, the middle of the range it left (for the size of the change) and that range's edge. */
export interface Excursion {
  direction: 'above' | 'below';
  reference: number;
  /** The expected range's edge at the candidate: later values had to stay beyond it (and an incident lasts while they do). */
  boundary: number;
}

interface Candidate extends Excursion {
  /** Values beyond the boundary since the candidate. */
  confirmed: number;
}

export class ExcursionWatch {
  private readonly confirmSamples: number;
  /** Per series (its state object): the open candidate. Not persisted: it lasts a few samples. */
  private readonly candidates = new WeakMap<object, Candidate>();

  /** @param confirmSamples values after the candidate that must stay beyond it; 0 turns the test off. */
  constructor(confirmSamples: number) {
    if (!(Number.isInteger(confirmSamples) && confirmSamples >= 0)) throw new RangeError(`excursion confirm samples must be an integer ≥ 0, got ${confirmSamples}`);
    this.confirmSamples = confirmSamples;
  }

  /** Takes the series' next scored value and its expected range; returns the excursion it confirms, if any. */
  observe(series: object, sample: RangeSample): Excursion | undefined {
    if (this.confirmSamples === 0) return undefined;
    const candidate = this.candidates.get(series);
    if (candidate !== undefined) {
      const beyond = candidate.direction === 'above' ? sample.value >= candidate.boundary : sample.value <= candidate.boundary;
      if (beyond) {
        candidate.confirmed += 1;
        if (candidate.confirmed < this.confirmSamples) return undefined;
        this.candidates.delete(series);
        return { direction: candidate.direction, reference: candidate.reference, boundary: candidate.boundary };
      }
      this.candidates.delete(series);
    }
    const { value, expectedLow: low, expectedHigh: high } = sample;
    if (low === null || high === null || !(high >= low)) return undefined;
    const width = high - low;
    const reference = (low + high) / 2;
    if (value >= high + width && value > high) this.candidates.set(series, { direction: 'above', boundary: high, reference, confirmed: 0 });
    else if (value <= low - width && value < low) this.candidates.set(series, { direction: 'below', boundary: low, reference, confirmed: 0 });
    return undefined;
  }

  /** Drops the series' candidate (an incident is open: the tracker follows it). */
  forget(series: object): void {
    this.candidates.delete(series);
  }
}
