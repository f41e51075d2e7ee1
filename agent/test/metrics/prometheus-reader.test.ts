import { execFileSync } from 'node:child_process';
import { MeterProvider } from '@opentelemetry/sdk-metrics';
import { describe, expect, it } from 'vitest';
import { PrometheusReader } from '../../src/metrics/prometheus-reader.js';

describe('PrometheusReader', () => {
  it('names metrics as the collector does (units, _ratio, _total), labels them with the agent and nothing of the SDK', async () => {
    const reader = new PrometheusReader('host-a');
    const provider = new MeterProvider({ readers: [reader] });
    const meter = provider.getMeter('sloth-agent', '1.0.0');
    meter.createObservableGauge('system.cpu.utilization', { unit: '1', description: 'CPU busy share' }).addCallback((r) => {
      r.observe(0.25);
      r.observe(0.5, { cpu: '0' });
    });
    meter.createCounter('system.network.io', { unit: 'By', description: 'network bytes' }).add(1500, { device: 'eth0', direction: 'receive' });
    meter.createUpDownCounter('system.memory.usage', { unit: 'By', description: 'memory\nby state' }).add(42, { state: 'used' });
    meter.createHistogram('sloth.agent.task.duration', { unit: 's', description: 'run time', advice: { explicitBucketBoundaries: [0.1, 1] } }).record(0.5, { kind: 'playbook', name: 'x"y' });
    try {
      const text = await reader.render();
      expect(text).toContain('# TYPE system_cpu_utilization_ratio gauge');
      expect(text).toContain('system_cpu_utilization_ratio{agent="host-a"} 0.25');
      expect(text).toContain('system_cpu_utilization_ratio{agent="host-a",cpu="0"} 0.5');
      expect(text).toContain('# TYPE system_network_io_bytes_total counter');
      expect(text).toContain('system_network_io_bytes_total{agent="host-a",device="eth0",direction="receive"} 1500');
      expect(text).toContain('# HELP system_memory_usage_bytes memory\\nby state');
      expect(text).toContain('system_memory_usage_bytes{agent="host-a",state="used"} 42');
      expect(text).toContain('sloth_agent_task_duration_seconds_bucket{agent="host-a",kind="playbook",name="x\\"y",le="1"} 1');
      expect(text).toContain('sloth_agent_task_duration_seconds_count{agent="host-a",kind="playbook",name="x\\"y"} 1');
      expect(text).not.toMatch(/otel_scope|target_info/);
      expect(execFileSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' }).trim()).toBe('');
    } finally {
      await provider.shutdown();
    }
  });

  it('renames attributes that would take a reserved label name (__name__, le, quantile), so the scrape stays valid', async () => {
    const reader = new PrometheusReader('host-a');
    const provider = new MeterProvider({ readers: [reader] });
    const meter = provider.getMeter('sloth-agent', '1.0.0');
    meter.createHistogram('sloth.evil', { unit: 's', advice: { explicitBucketBoundaries: [1] } }).record(0.5, { __name__: 'zz', le: '7', quantile: 'q' });
    try {
      const text = await reader.render();
      expect(text).toContain('sloth_evil_seconds_bucket{agent="host-a",exported___name__="zz",exported_le="7",exported_quantile="q",le="1"} 1');
      expect(execFileSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' }).trim()).toBe('');
    } finally {
      await provider.shutdown();
    }
  });

  it('of a histogram foo and a gauge foo_count (a name the histogram\'s samples take) exposes only the histogram, so the scrape stays valid', async () => {
    const reader = new PrometheusReader('host-a');
    const provider = new MeterProvider({ readers: [reader] });
    const meter = provider.getMeter('sloth-agent', '1.0.0');
    meter.createHistogram('backup.size', { advice: { explicitBucketBoundaries: [1] } }).record(3);
    meter.createGauge('backup.size_count').record(7);
    try {
      const text = await reader.render();
      expect(text).toContain('# TYPE backup_size histogram');
      expect(text).toContain('backup_size_count{agent="host-a"} 1');
      expect(text).not.toContain('# TYPE backup_size_count');
      expect(execFileSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' }).trim()).toBe('');
    } finally {
      await provider.shutdown();
    }
  });
});
