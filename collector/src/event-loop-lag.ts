import { performance } from 'node:perf_hooks';

/**
 * Measures how late the event loop runs: a timer due every `intervalMillis`
 * reports how long after its due time it fired. On a busy loop or a busy
 * machine (the process not scheduled) that is about how long a request
 * arriving now waits before the server reads it, which no service-time
 * model sees.
 */
export class EventLoopLag {
  private timer: NodeJS.Timeout | undefined;
  private dueAt = 0;

  /** @param intervalMillis how often to sample. @defaultValue 20 */
  constructor(
    private readonly report: (lagMillis: number) => void,
    private readonly intervalMillis = 20,
  ) {}

  start(): void {
    if (this.timer !== undefined) return;
    this.dueAt = performance.now() + this.intervalMillis;
    this.timer = setInterval(() => {
      const now = performance.now();
      this.report(Math.max(0, now - this.dueAt));
      this.dueAt = now + this.intervalMillis;
    }, this.intervalMillis);
    this.timer.unref();
  }

  shutdown(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
  }
}
