import { metricCatalogue } from './catalogue.js';
import { MetricsRegistry } from './registry.js';

/** Queue depths by queue and state, read on every scrape (the scheduler refreshes them on a timer). */
export type QueueDepthReader = () => ReadonlyArray<{ readonly queue: string; readonly state: string; readonly jobs: number }>;

/**
 * The scheduler's metrics: placements, remediation outcomes and queue
 * depths. The scaling controller registers its own families on
 * {@link SchedulerMetrics.registry}, so one `/metrics` shows them all.
 */
export class SchedulerMetrics {
  readonly registry = new MetricsRegistry();
  private readonly placements = this.registry.counter(metricCatalogue.schedulerPlacements);
  private readonly remediationRuns = this.registry.counter(metricCatalogue.remediationRuns);
  private readonly remediationDuration = this.registry.histogram(metricCatalogue.remediationDuration);
  private readonly remediationLastRun = this.registry.gauge(metricCatalogue.remediationLastRun);

  constructor(queueDepths?: QueueDepthReader) {
    if (queueDepths !== undefined) {
      this.registry.rebuiltGauge(metricCatalogue.schedulerQueueDepth, (gauge) => {
        for (const { queue, state, jobs } of queueDepths()) gauge.set({ queue, state }, jobs);
      });
    }
    this.registry.processMetrics();
  }

  /** One placement decision: `placed` on `agent`, or `no_capacity` (agent empty). */
  placement(agent: string, outcome: string): void {
    this.placements.inc({ agent, outcome });
  }

  /** One remediation in a final state (`succeeded`, `failed`, `timed_out`, `refused`, `skipped`) and its time from admission. */
  remediation(playbook: string, outcome: string, durationSeconds: number, finishedAtMillis = Date.now()): void {
    this.remediationRuns.inc({ playbook, outcome });
    this.remediationDuration.observe({ playbook }, Math.max(0, durationSeconds));
    this.remediationLastRun.set({ playbook, outcome }, finishedAtMillis / 1000);
  }

  async render(): Promise<string> {
    return await this.registry.render();
  }
}
