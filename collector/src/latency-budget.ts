/**
 * Admission by latency: before a request is read, estimate how long it
 * would take to answer and refuse it (503 with Retry-After) when that is
 * past the budget, so an overloaded collector answers the excess at once
 * instead of letting every request's latency grow.
 *
 * The estimate is built from measured service times, not from a queue
 * length alone: the main thread's decoding cost per byte times the bytes
 * admitted but not yet decoded (the work ahead on the event loop), the
 * request's own decoding, the recent write-ahead log sync time, and the
 * time the next store transaction is expected to hold the event loop (a
 * synchronous store blocks it for the whole transaction; the worker-thread
 * store only for a message post).
 */

/** An exponentially weighted moving average; undefined until the first sample. */
class Average {
  private current: number | undefined;
  constructor(private readonly weight: number) {}

  add(sample: number): void {
    this.current = this.current === undefined ? sample : this.current + this.weight * (sample - this.current);
  }

  valueOr(fallback: number): number {
    return this.current ?? fallback;
  }
}

export interface LatencyBudgetOptions {
  /** The latency a request may be expected to take before it is refused. @defaultValue 250 */
  readonly budgetMillis: number;
  /** Shortest Retry-After sent with a refusal. @defaultValue 1 */
  readonly minRetryAfterSeconds: number;
  /** Largest store transaction, in points: the store estimate never assumes a longer one. */
  readonly maxPointsPerTransaction: number;
}

export type AdmissionDecision =
  | { readonly admitted: true; readonly estimatedMillis: number }
  | { readonly admitted: false; readonly estimatedMillis: number; readonly retryAfterSeconds: number };

/** One admitted request's share of the work ahead; released once it is decoded (or answered). */
export interface AdmissionTicket {
  readonly arrivedAtMillis: number;
  readonly bytes: number;
  released: boolean;
}

/** Transactions smaller than this say more about fixed costs and pauses than about cost per point. */
const minPointsForPerPointCost = 1000;

export class LatencyBudget {
  readonly budgetMillis: number;
  private readonly minRetryAfterSeconds: number;
  private readonly maxPointsPerTransaction: number;
  private readonly decodeMillisPerByte = new Average(0.1);
  private readonly requestBytes = new Average(0.05);
  private readonly durableMillis = new Average(0.2);
  private readonly storeBlockMillisPerPoint = new Average(0.3);
  private readonly storeBlockMillis = new Average(0.3);
  private undecodedBytes = 0;
  private lastEstimateMillis = 0;

  constructor(options: LatencyBudgetOptions) {
    if (!(options.budgetMillis > 0)) throw new RangeError(`latency budget must be a positive number of milliseconds, got ${options.budgetMillis}`);
    this.budgetMillis = options.budgetMillis;
    this.minRetryAfterSeconds = options.minRetryAfterSeconds;
    this.maxPointsPerTransaction = options.maxPointsPerTransaction;
  }

  /** The most recent estimate, for the `estimated wait` gauge. */
  get estimatedMillis(): number {
    return this.lastEstimateMillis;
  }

  /**
   * Estimates the latency of a request of `bytes` (0 when unknown) arriving
   * now, with `storePendingPoints` waiting for the store.
   */
  estimate(bytes: number, storePendingPoints: number): number {
    const own = bytes > 0 ? bytes : this.requestBytes.valueOr(0);
    const perByte = this.decodeMillisPerByte.valueOr(0);
    const estimate = (this.undecodedBytes + own) * perByte + this.durableMillis.valueOr(0) + this.storeBlockEstimate(storePendingPoints);
    this.lastEstimateMillis = estimate;
    return estimate;
  }

  /**
   * How long the next store transaction is expected to hold the event loop: at least as long as recent
   * ones did, and per point only as measured on large transactions (a few points taking a GC pause's
   * time must not make ten thousand pending points look like minutes of work).
   */
  private storeBlockEstimate(storePendingPoints: number): number {
    if (storePendingPoints <= 0) return 0;
    const points = Math.min(storePendingPoints, this.maxPointsPerTransaction);
    return Math.max(this.storeBlockMillis.valueOr(0), points * this.storeBlockMillisPerPoint.valueOr(0));
  }

  /** What a request of `bytes` costs with nothing queued ahead of it: its decode and the WAL sync. */
  private ownMillis(bytes: number): number {
    const own = bytes > 0 ? bytes : this.requestBytes.valueOr(0);
    return own * this.decodeMillisPerByte.valueOr(0) + this.durableMillis.valueOr(0);
  }

  /** Decides on a request about to be read; an admitted one must be given a ticket with `enter`. */
  decide(bytes: number, storePendingPoints: number): AdmissionDecision {
    const estimatedMillis = this.estimate(bytes, storePendingPoints);
    // The budget bounds queueing. A request is refused only when work is queued ahead of it (bodies
    // waiting to be decoded, points waiting for the store) and its own cost (decode + WAL sync) is not
    // already past the budget: refusing it then would shed nothing. So a slow host (a loaded machine's
    // fsync, a cold decode) never turns a lone request into a 503; a backlog still does.
    const queuedAhead = this.undecodedBytes > 0 || storePendingPoints > 0;
    if (estimatedMillis <= this.budgetMillis || !queuedAhead || this.ownMillis(bytes) > this.budgetMillis) return { admitted: true, estimatedMillis };
    // The excess is roughly how long the backlog needs to drain below the budget.
    const retryAfterSeconds = Math.max(this.minRetryAfterSeconds, Math.ceil((estimatedMillis - this.budgetMillis) / 1000));
    return { admitted: false, estimatedMillis, retryAfterSeconds };
  }

  /** Counts an admitted request's bytes as work ahead of later requests. */
  enter(bytes: number, nowMillis: number): AdmissionTicket {
    this.undecodedBytes += bytes;
    return { arrivedAtMillis: nowMillis, bytes, released: false };
  }

  /** The request's body is decoded (or it ended without being decoded): its bytes are no longer ahead of anyone. */
  release(ticket: AdmissionTicket): void {
    if (ticket.released) return;
    ticket.released = true;
    this.undecodedBytes = Math.max(0, this.undecodedBytes - ticket.bytes);
  }

  /** A request body of `bytes` took `millis` of the main thread to decompress, decode and normalise. */
  observeDecode(millis: number, bytes: number): void {
    if (bytes <= 0) return;
    this.requestBytes.add(bytes);
    this.decodeMillisPerByte.add(millis / bytes);
  }

  /** An append waited `millis` for the write-ahead log to be synced. */
  observeDurable(millis: number): void {
    this.durableMillis.add(millis);
  }

  /** A store transaction of `points` held the event loop for `millis`. */
  observeStoreBlock(millis: number, points: number): void {
    if (points <= 0) return;
    this.storeBlockMillis.add(millis);
    if (points >= minPointsForPerPointCost) this.storeBlockMillisPerPoint.add(millis / points);
  }
}
