import { chunkWords, type ChunkPoints } from './schema.js';
import type { SamplePoint, StepAggregation } from './store-types.js';

/**
 * The chunk `words` of points that arrived out of order or twice: sorted by
 * time, one point per timestamp, the one written last (the sort is stable).
 */
export function sortedUnique(words: Float64Array, count: number): { words: Float64Array; count: number } {
  const order = nearlySortedOrder(words, count) ?? generalOrder(words, count);
  let kept = 0;
  for (let k = 0; k < count; k += 1) {
    const i = order[k] as number;
    const next = order[k + 1];
    if (next !== undefined && words[1 + next] === words[1 + i]) continue;
    order[kept++] = i;
  }
  const out = chunkWords(kept);
  for (let k = 0; k < kept; k += 1) {
    const i = order[k] as number;
    out[1 + k] = words[1 + i] as number;
    out[1 + kept + k] = words[1 + count + i] as number;
  }
  return { words: out, count: kept };
}

/**
 * The stable order by time of a chunk's points when they are nearly in order (the usual case: a few
 * requests of one agent overtook each other), by insertion sort; undefined once it has moved points
 * more than {@link insertionMovesPerPoint} times per point, where the general sort is cheaper.
 */
function nearlySortedOrder(words: Float64Array, count: number): Int32Array | undefined {
  const order = new Int32Array(count);
  let budget = insertionMovesPerPoint * count;
  for (let k = 0; k < count; k += 1) {
    const t = words[1 + k] as number;
    let j = k;
    // Strictly later only: equal timestamps keep their write order (stable).
    while (j > 0 && (words[1 + (order[j - 1] as number)] as number) > t) {
      order[j] = order[j - 1] as number;
      j -= 1;
      if (--budget < 0) return undefined;
    }
    order[j] = k;
  }
  return order;
}

/** Moves per point the insertion sort may make before the general sort takes over (its n log n with n in the thousands). */
const insertionMovesPerPoint = 8;

function generalOrder(words: Float64Array, count: number): number[] {
  const order = Array.from({ length: count }, (_, i) => i);
  order.sort((a, b) => (words[1 + a] as number) - (words[1 + b] as number));
  return order;
}

/**
 * The points of `chunks` (in write order) within `[from, to]`, sorted by
 * time, one per timestamp: where chunks overlap, the later chunk's point wins.
 */
export function mergeChunks(chunks: readonly ChunkPoints[], from: number, to: number): ChunkPoints {
  let total = 0;
  let ordered = true;
  let previousEnd = Number.NEGATIVE_INFINITY;
  for (const chunk of chunks) {
    total += chunk.count;
    if (chunk.count === 0) continue;
    if ((chunk.timestamps[0] as number) <= previousEnd) ordered = false;
    previousEnd = Math.max(previousEnd, chunk.timestamps[chunk.count - 1] as number);
  }
  const timestamps = new Float64Array(total);
  const values = new Float64Array(total);
  let n = 0;
  for (const chunk of chunks) {
    for (let i = 0; i < chunk.count; i += 1) {
      const t = chunk.timestamps[i] as number;
      if (t < from || t > to) continue;
      timestamps[n] = t;
      values[n] = chunk.values[i] as number;
      n += 1;
    }
  }
  if (ordered) return { count: n, timestamps, values };
  // Chunks written in order, points in a chunk sorted: a stable sort by time leaves the latest write last among equals.
  const words = chunkWords(n);
  words.set(timestamps.subarray(0, n), 1);
  words.set(values.subarray(0, n), 1 + n);
  const merged = sortedUnique(words, n);
  return { count: merged.count, timestamps: merged.words.subarray(1, 1 + merged.count), values: merged.words.subarray(1 + merged.count, 1 + 2 * merged.count) };
}

export function nullIfNaN(value: number): number | null {
  return Number.isNaN(value) ? null : value;
}

/** The raw points (NaN as null), at most `limit`. */
export function rawPoints(points: ChunkPoints, limit: number): SamplePoint[] {
  const out: SamplePoint[] = [];
  for (let i = 0; i < points.count && out.length < limit; i += 1) out.push({ t: points.timestamps[i] as number, v: nullIfNaN(points.values[i] as number) });
  return out;
}

/**
 * Sorted points aggregated per step: buckets `[from + k·step, from + (k+1)·step)`,
 * each reported at its start, empty buckets left out, at most `limit`. As SQL
 * aggregates do, NaN (NULL) values are skipped, a bucket of only NaN yields
 * null, and sums are compensated (Kahan-Babuska-Neumaier). Pure.
 */
export function stepAggregate(points: ChunkPoints, fromMillis: number, stepMillis: number, agg: StepAggregation, limit: number): SamplePoint[] {
  const { count, timestamps, values } = points;
  const out: SamplePoint[] = [];
  let i = 0;
  while (i < count && out.length < limit) {
    const bucket = Math.floor(((timestamps[i] as number) - fromMillis) / stepMillis);
    const bucketEnd = fromMillis + (bucket + 1) * stepMillis;
    let seen = 0;
    let sum = 0;
    let compensation = 0;
    let min = Number.POSITIVE_INFINITY;
    let max = Number.NEGATIVE_INFINITY;
    let last = Number.NaN;
    for (; i < count && (timestamps[i] as number) < bucketEnd; i += 1) {
      const v = values[i] as number;
      last = v;
      if (Number.isNaN(v)) continue;
      seen += 1;
      if (v < min) min = v;
      if (v > max) max = v;
      const t = sum + v;
      compensation += Math.abs(sum) >= Math.abs(v) ? sum - t + v : v - t + sum;
      sum = t;
    }
    const v = agg === 'last' ? nullIfNaN(last) : seen === 0 ? null : agg === 'min' ? min : agg === 'max' ? max : (sum + compensation) / seen;
    out.push({ t: fromMillis + bucket * stepMillis, v });
  }
  return out;
}
