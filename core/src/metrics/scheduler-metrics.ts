import { metricCatalogue } from './catalogue.js';
import { MetricsRegistry } from './registry.js';

/** Queue depths by queue and state, read on every scrape (BullMQ `getJobCounts`). */
export type QueueDepthReader = () => ReadonlyArray<{ readonly queue: string; readonly state: string; readonly jobs: number }>;

/**
 * The scheduler's metrics (catalogue entries marked planned), ready to wire:
 * the scheduler records placements, scaling decisions and remediation
 * results here and serves {@link SchedulerMetrics.render} on `/metrics`.
 * Until it does, the dashboards' scheduler panels declare expectEmpty.
 */
export class SchedulerMetrics {
  readonly registry = new MetricsRegistry();
  private readonly placements = this.registry.counter(metricCatalogue.schedulerPlacements);
  private readonly scalingDecisions = this.registry.counter(metricCatalogue.schedulerScalingDecisions);
  private readonly desiredReplicas = this.registry.gauge(metricCatalogue.schedulerDesiredReplicas);
  private readonly forecastDemand = this.registry.gauge(metricCatalogue.schedulerForecastDemand);
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

  /** One placement decision: `placed`, `no_capacity` or `rejected`. */
  placement(agent: string, outcome: string): void {
    this.placements.inc({ agent, outcome });
  }

  /** One scaling decision (`up`, `down`, `hold`) with the replicas asked for and the demand planned for. */
  scaling(target: string, direction: string, replicas: number, plannedDemand: number): void {
    this.scalingDecisions.inc({ target, direction });
    this.desiredReplicas.set({ target }, replicas);
    this.forecastDemand.set({ target }, plannedDemand);
  }

  /** One finished remediation (`succeeded`, `failed`, `timed_out`, `refused`) and its time from trigger to result. */
  remediation(playbook: string, outcome: string, durationSeconds: number, finishedAtMillis = Date.now()): void {
    this.remediationRuns.inc({ playbook, outcome });
    this.remediationDuration.observe({ playbook }, Math.max(0, durationSeconds));
    this.remediationLastRun.set({ playbook, outcome }, finishedAtMillis / 1000);
  }

  async render(): Promise<string> {
    return await this.registry.render();
  }
}
