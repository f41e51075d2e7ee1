import type { Counter, Histogram, Meter } from '@opentelemetry/api';
import { MeterProvider } from '@opentelemetry/sdk-metrics';
import { metricCatalogue as m, otelInstrument } from '@sloth/core';

/** One finished task or playbook run on this agent. */
export interface TaskRun {
  readonly kind: 'task' | 'playbook';
  readonly name: string;
  readonly ok: boolean;
  readonly durationMillis: number;
}

/** Histogram bounds in seconds: 1 ms … 10 min. */
const durationBoundsSeconds = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600];

/**
 * Runs, failures and durations of tasks and playbooks executed on the agent:
 * `sloth.agent.task.runs`, `sloth.agent.task.failures` (counters) and
 * `sloth.agent.task.duration` (histogram, seconds), each with `kind` and `name`.
 */
export class TaskMetrics {
  private readonly runs: Counter;
  private readonly failures: Counter;
  private readonly duration: Histogram;
  private readonly totals = { runs: 0, failures: 0 };

  constructor(meter: Meter = new MeterProvider().getMeter('sloth-agent-tasks')) {
    this.runs = meter.createCounter(otelInstrument(m.agentTaskRuns).name, otelInstrument(m.agentTaskRuns).options);
    this.failures = meter.createCounter(otelInstrument(m.agentTaskFailures).name, otelInstrument(m.agentTaskFailures).options);
    this.duration = meter.createHistogram(otelInstrument(m.agentTaskDuration).name, {
      ...otelInstrument(m.agentTaskDuration).options,
      advice: { explicitBucketBoundaries: durationBoundsSeconds },
    });
  }

  recordTaskRun(run: TaskRun): void {
    const attrs = { kind: run.kind, name: run.name };
    this.runs.add(1, attrs);
    this.totals.runs += 1;
    if (!run.ok) {
      this.failures.add(1, attrs);
      this.totals.failures += 1;
    }
    this.duration.record(Math.max(0, run.durationMillis) / 1000, { ...attrs, ok: run.ok });
  }

  /** Totals since start (for `sloth agent checks` and tests). */
  counts(): Readonly<{ runs: number; failures: number }> {
    return { ...this.totals };
  }
}
