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
 *
 * That model leaves out time it cannot see: the process not being scheduled
 * on a busy machine, a request's bytes waiting in the socket until the event
 * loop reads them, pauses the terms do not cover. A feedback term adds it
 * back, so admission tightens when reality is slower than the model:
 * - the measured event-loop lag (how late timers fire), the time a request
 *   arriving now waits before the server even sees it;
 * - the recent excess of observed over estimated latency of admitted
 *   requests, as mean + 4 × mean deviation (the smoothing of TCP's
 *   retransmission timer, RFC 6298: gains 1/8 and 1/4), so the margin
 *   covers the tail, not just the typical request.
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
  /** What the model (without the feedback term) expected this request to take. */
  readonly modelMillis: number;
  released: boolean;
  /** Answered (or abandoned): no longer in flight. */
  completed: boolean;
}

/**
 * Mean and mean deviation of a signed quantity, smoothed as RFC 6298 smooths
 * round-trip times; `margin` is the mean plus four deviations (never below 0).
 */
class ExcessTracker {
  private mean: number | undefined;
  private deviation = 0;

  add(sample: number): void {
    if (this.mean === undefined) {
      this.mean = sample;
      this.deviation = Math.abs(sample) / 2;
      return;
    }
    this.deviation += (Math.abs(sample - this.mean) - this.deviation) / 4;
    this.mean += (sample - this.mean) / 8;
  }

  get margin(): number {
    return this.mean === undefined ? 0 : Math.max(0, this.mean + 4 * this.deviation);
  }
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
  private readonly eventLoopLagMillis = new Average(1 / 8);
  private readonly excess = new ExcessTracker();
  private undecodedBytes = 0;
  /** Admitted requests not yet answered. */
  private inFlight = 0;
  private lastEstimateMillis = 0;
  private lastModelMillis = 0;

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

  /** The feedback term: time the model leaves out, as measured lately (event-loop lag + excess of observed over modelled latency). */
  get feedbackMillis(): number {
    return this.eventLoopLagMillis.valueOr(0) + this.excess.margin;
  }

  /**
   * Estimates the latency of a request of `bytes` (0 when unknown) arriving
   * now, with `storePendingPoints` waiting for the store: the model plus the feedback term.
   */
  estimate(bytes: number, storePendingPoints: number): number {
    const model = this.modelEstimate(bytes, storePendingPoints);
    // The feedback describes contention among requests: with none in flight, refusing this one would
    // shed nothing, and a lone request on a slow host must not get 503 for the host's slowness.
    const estimate = model + (this.inFlight > 0 ? this.feedbackMillis : 0);
    this.lastModelMillis = model;
    this.lastEstimateMillis = estimate;
    return estimate;
  }

  /** The model alone: decoding of the bytes ahead and the request's own, the WAL sync, the next store transaction. */
  private modelEstimate(bytes: number, storePendingPoints: number): number {
    const own = bytes > 0 ? bytes : this.requestBytes.valueOr(0);
    const perByte = this.decodeMillisPerByte.valueOr(0);
    return (this.undecodedBytes + own) * perByte + this.durableMillis.valueOr(0) + this.storeBlockEstimate(storePendingPoints);
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
    const queuedAhead = this.inFlight > 0 || this.undecodedBytes > 0 || storePendingPoints > 0;
    if (estimatedMillis <= this.budgetMillis || !queuedAhead || this.ownMillis(bytes) > this.budgetMillis) return { admitted: true, estimatedMillis };
    // The excess is roughly how long the backlog needs to drain below the budget.
    const retryAfterSeconds = Math.max(this.minRetryAfterSeconds, Math.ceil((estimatedMillis - this.budgetMillis) / 1000));
    return { admitted: false, estimatedMillis, retryAfterSeconds };
  }

  /** Counts an admitted request's bytes as work ahead of later requests (call right after `decide` admitted it). */
  enter(bytes: number, nowMillis: number): AdmissionTicket {
    this.undecodedBytes += bytes;
    this.inFlight += 1;
    return { arrivedAtMillis: nowMillis, bytes, modelMillis: this.lastModelMillis, released: false, completed: false };
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

  /**
   * An admitted request is over: answered `observedMillis` after it arrived (the server's view, from its
   * headers to its answer; undefined when it failed or was abandoned, which says nothing about latency).
   */
  complete(ticket: AdmissionTicket, observedMillis?: number): void {
    this.release(ticket);
    if (ticket.completed) return;
    ticket.completed = true;
    this.inFlight = Math.max(0, this.inFlight - 1);
    if (observedMillis !== undefined && Number.isFinite(observedMillis)) this.excess.add(observedMillis - ticket.modelMillis);
  }

  /** The event loop ran `millis` late (a timer fired that much after it was due): a request arriving now waits about that long to be read. */
  observeEventLoopLag(millis: number): void {
    if (Number.isFinite(millis) && millis >= 0) this.eventLoopLagMillis.add(millis);
  }

  /** A store transaction of `points` held the event loop for `millis`. */
  observeStoreBlock(millis: number, points: number): void {
    if (points <= 0) return;
    this.storeBlockMillis.add(millis);
    if (points >= minPointsForPerPointCost) this.storeBlockMillisPerPoint.add(millis / points);
  }
}
