import { describe, expect, it } from 'vitest';
import { escapeHelp, escapeLabelValue, formatPrometheusValue, labelText, prometheusLabelName, prometheusLabels, prometheusMetricName } from '../../src/metrics/prometheus-text.js';

describe('OpenTelemetry → Prometheus names', () => {
  it.each([
    ['system.cpu.utilization', '1', 'gauge', 'system_cpu_utilization_ratio'],
    ['system.memory.usage', 'By', 'gauge', 'system_memory_usage_bytes'],
    ['system.network.io', 'By', 'counter', 'system_network_io_bytes_total'],
    ['system.network.packets', '{packet}', 'counter', 'system_network_packets_total'],
    ['system.cpu.load_average.1m', '{thread}', 'gauge', 'system_cpu_load_average_1m'],
    ['http.server.request.duration', 's', 'histogram', 'http_server_request_duration_seconds'],
    ['requests.total', '{request}', 'counter', 'requests_total'],
    ['latency_seconds', 's', 'gauge', 'latency_seconds'],
    ['throughput', 'By/s', 'gauge', 'throughput_bytes_per_second'],
    ['1st.metric', '', 'gauge', '_1st_metric'],
    ['sloth.agent.check.status', '1', 'gauge', 'sloth_agent_check_status_ratio'],
    ['ratio.of.things', '1', 'counter', 'ratio_of_things_total'],
  ] as const)('%s (%s, %s) → %s', (name, unit, type, expected) => {
    expect(prometheusMetricName(name, unit, type)).toBe(expected);
  });

  it('sanitises label names and merges the ones that collide', () => {
    expect(prometheusLabelName('service.instance.id')).toBe('service_instance_id');
    expect(prometheusLabelName('0day')).toBe('key_0day');
    expect(prometheusLabelName('_x')).toBe('key_x');
    expect(prometheusLabelName('__name')).toBe('__name');
    expect(prometheusLabels({ 'a.b': '1', a_b: '2', z: 'last' })).toEqual([
      ['a_b', '1;2'],
      ['z', 'last'],
    ]);
  });

  it('escapes label values and help text, and writes special numbers as Prometheus reads them', () => {
    expect(escapeLabelValue('a"b\\c\nd')).toBe('a\\"b\\\\c\\nd');
    expect(escapeHelp('line\\one\nline two "quoted"')).toBe('line\\\\one\\nline two "quoted"');
    expect(labelText([['path', 'C:\\x"']])).toBe('{path="C:\\\\x\\""}');
    expect(labelText([])).toBe('');
    expect([NaN, Infinity, -Infinity, undefined, 0.5].map(formatPrometheusValue)).toEqual(['NaN', '+Inf', '-Inf', 'NaN', '0.5']);
  });
});
