import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { SchedulerMetrics } from '../../src/metrics/scheduler-metrics.js';

describe('SchedulerMetrics', () => {
  it('records placements and remediations under the catalogue names the scheduler dashboard queries', async () => {
    let depths = [
      { queue: 'tasks', state: 'waiting', jobs: 4 },
      { queue: 'remediation', state: 'active', jobs: 1 },
    ];
    const metrics = new SchedulerMetrics(() => depths);
    metrics.placement('agent-1', 'placed');
    metrics.placement('agent-1', 'placed');
    metrics.remediation('restart-nginx', 'succeeded', 2.5, 1_700_000_000_000);
    let text = await metrics.render();
    expect(text).toContain('sloth_scheduler_placements_total{agent="agent-1",outcome="placed"} 2');
    expect(text).toContain('sloth_remediation_runs_total{playbook="restart-nginx",outcome="succeeded"} 1');
    expect(text).toContain('sloth_remediation_duration_seconds_bucket{le="5",playbook="restart-nginx"} 1');
    expect(text).toContain('sloth_remediation_last_run_timestamp_seconds{playbook="restart-nginx",outcome="succeeded"} 1700000000');
    expect(text).toContain('sloth_scheduler_queue_depth{queue="tasks",state="waiting"} 4');
    expect(execFileSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' }).trim()).toBe('');
    depths = [{ queue: 'tasks', state: 'waiting', jobs: 0 }];
    text = await metrics.render();
    expect(text).toContain('sloth_scheduler_queue_depth{queue="tasks",state="waiting"} 0');
    expect(text).not.toContain('queue="remediation"');
  });
});
