const maxDeltaMillis = 0xffff_ffff;

/**
 * The most recent points of one series, oldest first, in typed arrays that
 * grow by doubling up to `capacity` (so a young series costs little memory)
 * and then wrap around. 8 bytes a point, so a full buffer of 4,000 points is
 * 32 KB: values as float32 (7 significant digits, plenty for forecasting),
 * timestamps as uint32 gaps to the previous point in milliseconds (exact for
 * gaps up to 49 days; longer gaps are clamped) plus the newest timestamp.
 */
export class HistoryBuffer {
  readonly capacity: number;
  private deltas: Uint32Array;
  private values: Float32Array;
  private start = 0;
  private size = 0;
  private newestMillis = 0;

  /** @param capacity most points kept */
  constructor(capacity: number, initialCapacity = 64) {
    this.capacity = capacity;
    const first = Math.min(capacity, initialCapacity);
    this.deltas = new Uint32Array(first);
    this.values = new Float32Array(first);
  }

  get length(): number {
    return this.size;
  }

  /** Bytes held by the arrays (for memory accounting). */
  get byteLength(): number {
    return this.deltas.byteLength + this.values.byteLength;
  }

  /** Appends a point; timestamps must increase (the service skips older samples before they get here). */
  push(timestampMillis: number, value: number): void {
    const delta = this.size === 0 ? 0 : Math.min(maxDeltaMillis, Math.max(0, Math.round(timestampMillis - this.newestMillis)));
    this.newestMillis = timestampMillis;
    if (this.size === this.deltas.length && this.size < this.capacity) this.grow();
    const slots = this.deltas.length;
    if (this.size < slots) {
      const at = (this.start + this.size) % slots;
      this.deltas[at] = delta;
      this.values[at] = value;
      this.size += 1;
      return;
    }
    this.deltas[this.start] = delta;
    this.values[this.start] = value;
    this.start = (this.start + 1) % slots;
  }

  /** Copies of the points, oldest first. */
  toArrays(): { timestampsMillis: number[]; values: number[] } {
    const timestampsMillis = new Array<number>(this.size);
    const values = new Array<number>(this.size);
    const slots = this.deltas.length;
    let t = this.newestMillis;
    for (let i = this.size - 1; i >= 0; i -= 1) {
      const at = (this.start + i) % slots;
      timestampsMillis[i] = t;
      values[i] = this.values[at] as number;
      t -= this.deltas[at] as number;
    }
    return { timestampsMillis, values };
  }

  /** Compact JSON form (base64 of the gaps and values, oldest first): 8 bytes a point before base64. */
  serialize(): SerializedHistory {
    const deltas = new Uint32Array(this.size);
    const values = new Float32Array(this.size);
    const slots = this.deltas.length;
    for (let i = 0; i < this.size; i += 1) {
      const at = (this.start + i) % slots;
      deltas[i] = this.deltas[at] as number;
      values[i] = this.values[at] as number;
    }
    return {
      newestMillis: this.newestMillis,
      deltasBase64: Buffer.from(deltas.buffer).toString('base64'),
      valuesBase64: Buffer.from(values.buffer).toString('base64'),
    };
  }

  /** Rebuilds a buffer from {@link serialize} output, keeping at most `capacity` newest points. */
  static deserialize(capacity: number, data: SerializedHistory): HistoryBuffer {
    const d = Buffer.from(data.deltasBase64, 'base64');
    const v = Buffer.from(data.valuesBase64, 'base64');
    const deltas = new Uint32Array(d.buffer.slice(d.byteOffset, d.byteOffset + d.byteLength - (d.byteLength % 4)));
    const values = new Float32Array(v.buffer.slice(v.byteOffset, v.byteOffset + v.byteLength - (v.byteLength % 4)));
    const n = Math.min(deltas.length, values.length);
    const keep = Math.min(n, capacity);
    const buffer = new HistoryBuffer(capacity, Math.max(keep, 1));
    buffer.deltas.set(deltas.subarray(n - keep, n));
    buffer.values.set(values.subarray(n - keep, n));
    buffer.size = keep;
    buffer.newestMillis = Number.isFinite(data.newestMillis) ? data.newestMillis : 0;
    return buffer;
  }

  private grow(): void {
    const next = Math.min(this.capacity, Math.max(1, this.deltas.length * 2));
    const deltas = new Uint32Array(next);
    const values = new Float32Array(next);
    const slots = this.deltas.length;
    for (let i = 0; i < this.size; i += 1) {
      const at = (this.start + i) % slots;
      deltas[i] = this.deltas[at] as number;
      values[i] = this.values[at] as number;
    }
    this.deltas = deltas;
    this.values = values;
    this.start = 0;
  }
}

/** The persisted form of a {@link HistoryBuffer}. */
export interface SerializedHistory {
  newestMillis: number;
  deltasBase64: string;
  valuesBase64: string;
}
