/**
 * The most recent points of one series, oldest first, in typed arrays that
 * grow by doubling up to `capacity` (so a young series costs little memory)
 * and then wrap around. Values are kept as float32 (7 significant digits,
 * plenty for forecasting) to keep a full buffer of 4,000 points at 48 KB.
 */
export class HistoryBuffer {
  readonly capacity: number;
  private timestamps: Float64Array;
  private values: Float32Array;
  private start = 0;
  private size = 0;

  /** @param capacity most points kept */
  constructor(capacity: number, initialCapacity = 64) {
    this.capacity = capacity;
    const first = Math.min(capacity, initialCapacity);
    this.timestamps = new Float64Array(first);
    this.values = new Float32Array(first);
  }

  get length(): number {
    return this.size;
  }

  /** Bytes held by the arrays (for memory accounting). */
  get byteLength(): number {
    return this.timestamps.byteLength + this.values.byteLength;
  }

  push(timestampMillis: number, value: number): void {
    if (this.size === this.timestamps.length && this.size < this.capacity) this.grow();
    const slots = this.timestamps.length;
    if (this.size < slots) {
      const at = (this.start + this.size) % slots;
      this.timestamps[at] = timestampMillis;
      this.values[at] = value;
      this.size += 1;
      return;
    }
    this.timestamps[this.start] = timestampMillis;
    this.values[this.start] = value;
    this.start = (this.start + 1) % slots;
  }

  /** Copies of the points, oldest first. */
  toArrays(): { timestampsMillis: number[]; values: number[] } {
    const timestampsMillis = new Array<number>(this.size);
    const values = new Array<number>(this.size);
    const slots = this.timestamps.length;
    for (let i = 0; i < this.size; i += 1) {
      const at = (this.start + i) % slots;
      timestampsMillis[i] = this.timestamps[at] as number;
      values[i] = this.values[at] as number;
    }
    return { timestampsMillis, values };
  }

  private grow(): void {
    const next = Math.min(this.capacity, Math.max(1, this.timestamps.length * 2));
    const { timestampsMillis, values } = this.toArrays();
    this.timestamps = new Float64Array(next);
    this.values = new Float32Array(next);
    this.timestamps.set(timestampsMillis);
    this.values.set(values);
    this.start = 0;
  }
}
