import { describe, expect, test } from 'vitest';
import { matchTriggers, parsePlaybookEvent, type PlaybookMetadata } from '../../src/playbook/index.js';

const metadata: PlaybookMetadata = {
  name: 'p',
  description: '',
  version: '1',
  params: {},
  requiresApproval: false,
  triggers: [
    { anomaly: { metric: 'system.cpu.utilization', min_score: 0.9 } },
    { event: { type: 'health_check', check: 'nginx', state: 'unhealthy' } },
    { alert: { name: 'DiskWillFill' } },
    { anomaly: { metric: 'http.server.*', agent: 'web-*' } },
  ],
};

const anomaly = { seriesId: 'system.cpu.utilization', agentId: 'web-1', metric: 'system.cpu.utilization', timestampMillis: 1, value: 0.99, score: 0.95, expectedLow: null, expectedHigh: 0.5, modelVersion: 'v1' };

describe('parsePlaybookEvent', () => {
  test('recognises anomaly events, Sloth events and alerts', () => {
    expect(parsePlaybookEvent(anomaly)).toEqual({ source: 'anomaly', anomaly });
    expect(parsePlaybookEvent({ type: 'alert', timestampMillis: 5, attributes: { name: 'X' } })).toEqual({ source: 'event', event: { type: 'alert', timestampMillis: 5, attributes: { name: 'X' } } });
    expect(parsePlaybookEvent({ type: 'agent_down', timestampMillis: 5 })).toEqual({ source: 'event', event: { type: 'agent_down', timestampMillis: 5, attributes: {} } });
  });

  test('anything else is refused with SLOTH_ERR_INPUT', () => {
    expect(() => parsePlaybookEvent({ hello: 1 })).toThrow(expect.objectContaining({ code: 'SLOTH_ERR_INPUT' }));
  });
});

describe('matchTriggers', () => {
  test('an anomaly matches on metric and minimum score', () => {
    expect(matchTriggers(metadata, { source: 'anomaly', anomaly }).map((m) => m.index)).toEqual([0]);
    expect(matchTriggers(metadata, { source: 'anomaly', anomaly: { ...anomaly, score: 0.5 } })).toEqual([]);
  });

  test('glob patterns on metric and agent', () => {
    const http = { ...anomaly, metric: 'http.server.duration', score: 0.1 };
    expect(matchTriggers(metadata, { source: 'anomaly', anomaly: http }).map((m) => m.index)).toEqual([3]);
    expect(matchTriggers(metadata, { source: 'anomaly', anomaly: { ...http, agentId: 'db-1' } })).toEqual([]);
  });

  test('an event matches on type and every listed attribute', () => {
    const event = { type: 'health_check', timestampMillis: 1, attributes: { check: 'nginx', state: 'unhealthy', previous: 'healthy' } };
    const matches = matchTriggers(metadata, { source: 'event', event });
    expect(matches).toEqual([{ index: 1, trigger: metadata.triggers[1], reason: 'event health_check with check=nginx, state=unhealthy' }]);
    expect(matchTriggers(metadata, { source: 'event', event: { ...event, attributes: { check: 'redis', state: 'unhealthy' } } })).toEqual([]);
  });

  test('an alert matches by name', () => {
    const alert = { type: 'alert', timestampMillis: 1, attributes: { name: 'DiskWillFill', level: 'warning' } };
    expect(matchTriggers(metadata, { source: 'event', event: alert }).map((m) => m.reason)).toEqual(['alert DiskWillFill']);
    expect(matchTriggers(metadata, { source: 'event', event: { ...alert, attributes: { name: 'Other' } } })).toEqual([]);
    expect(matchTriggers(metadata, { source: 'event', event: { ...alert, type: 'not-alert' } })).toEqual([]);
  });
});
