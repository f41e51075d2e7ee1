import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, test } from 'vitest';
import type { AnomalyEvent } from '@sloth/core';
import { cpuBurn } from '../helpers/anomaly-events.js';
import { loadPlaybook, matchTriggers, missingConfiguration, validateMetadata, type PlaybookMetadata } from '../../src/playbook/index.js';

const burn = cpuBurn(0.8);

const metadata: PlaybookMetadata = {
  name: 'p',
  description: '',
  version: '1',
  params: {},
  requiresApproval: false,
  triggers: [{ anomaly: { metric: 'system.cpu.*', direction: 'above', min_duration: 20, min_score: 0.6 } }],
};

const match = (anomaly: AnomalyEvent, of: PlaybookMetadata = metadata): number[] => matchTriggers(of, { source: 'anomaly', anomaly }).map((m) => m.index);

describe('incident triggers', () => {
  test('match direction, minimum duration and metric pattern, and say so', () => {
    const [found] = matchTriggers(metadata, { source: 'anomaly', anomaly: burn });
    expect(found?.reason).toBe('anomaly on system.cpu.utilization with score 0.8 >= 0.6, above the expected range, lasting 25 s >= 20 s');
    expect(match({ ...burn, direction: 'below', value: 0 })).toEqual([]);
    expect(match({ ...burn, firstSeenMillis: burn.timestampMillis - 5_000 })).toEqual([]);
    expect(match({ ...burn, metric: 'system.memory.usage' })).toEqual([]);
  });

  test('a resolved incident never matches; events without incident fields take the direction from the range', () => {
    expect(match({ ...burn, state: 'resolved' })).toEqual([]);
    const onOpen: PlaybookMetadata = { ...metadata, triggers: [{ anomaly: { metric: 'system.cpu.*' } }] };
    expect(match({ ...burn, state: 'open' }, onOpen)).toEqual([0]);
    expect(match(burn, onOpen)).toEqual([]);
    const { incidentId: _i, state: _s, direction: _d, firstSeenMillis: _f, peakScore: _p, ...old } = burn;
    const instant: PlaybookMetadata = { ...metadata, triggers: [{ anomaly: { metric: 'system.cpu.*', direction: 'above' } }] };
    expect(match(old, instant)).toEqual([0]);
    expect(match({ ...old, value: 0 }, instant)).toEqual([]);
    expect(match({ ...old, expectedLow: null, expectedHigh: null }, instant)).toEqual([]);
  });

  test('bad trigger settings are refused, naming the value', () => {
    const table = { name: 'x', description: '', run: { $function: true }, triggers: [{ anomaly: { metric: 'm', direction: 'up', min_duration: -1 } }] };
    const messages = validateMetadata(table).problems.map((p) => p.message);
    expect(messages).toContain('triggers[1].anomaly.direction must be "above", "below" or "any" (got "up")');
    expect(messages).toContain('triggers[1].anomaly.min_duration must be a number of seconds >= 0 (got -1)');
  });

  test('the shipped kill-top-cpu matches a sustained CPU burn, not its first sample, and never a dip', async () => {
    const file = fileURLToPath(new URL('../../../playbooks/kill-top-cpu.lua', import.meta.url));
    const playbook = await loadPlaybook(readFileSync(file, 'utf8'), file);
    const kill = playbook.metadata;
    expect(match(burn, kill)).toEqual([0]);
    expect(match({ ...burn, state: 'open', timestampMillis: burn.firstSeenMillis! }, kill)).toEqual([]);
    expect(match({ ...burn, direction: 'below', value: 0 }, kill)).toEqual([]);
  });
});

test('the shipped report-top-memory matches a sustained memory rise, not a drop, and not CPU', async () => {
  const file = fileURLToPath(new URL('../../../playbooks/report-top-memory.lua', import.meta.url));
  const { metadata: report } = await loadPlaybook(readFileSync(file, 'utf8'), file);
  const spike: AnomalyEvent = { ...burn, seriesId: 'system.memory.usage{agent="h1",state="used"}', metric: 'system.memory.usage', value: 6e9, expectedLow: 1e9, expectedHigh: 2e9, firstSeenMillis: burn.timestampMillis - 12_000 };
  expect(match(spike, report)).toEqual([0]);
  expect(match({ ...spike, firstSeenMillis: spike.timestampMillis - 3_000 }, report)).toEqual([]);
  expect(match({ ...spike, direction: 'below', value: 1e8 }, report)).toEqual([]);
  expect(match(burn, report)).toEqual([]);
});

describe('playbook configuration for triggered runs', () => {
  test('notify-webhook without a URL is incomplete, naming the parameter; a configured URL completes it', async () => {
    const file = fileURLToPath(new URL('../../../playbooks/notify-webhook.lua', import.meta.url));
    const { metadata: webhook } = await loadPlaybook(readFileSync(file, 'utf8'), file);
    expect(missingConfiguration(webhook)).toEqual([
      "playbook 'notify-webhook' needs param 'url' (string: webhook URL (secret)); set scheduler.playbookParams.notify-webhook.url in the config file",
    ]);
    expect(missingConfiguration(webhook, { url: '' })).toHaveLength(1);
    expect(missingConfiguration(webhook, { url: 'https://hooks.example/T0' })).toEqual([]);
  });
});
