import { describe, expect, it } from 'vitest';
import { parseAlertsFile, testRoutes, type SignalStore } from '../src/index.js';
import { rig, T0 } from './helpers.js';

const cpuRule = `
  - name: HighCpu
    type: threshold
    metric: system.cpu.utilization
    op: '>'
    threshold: 0.9
    recover: 0.8
    for: 30s
    severity: critical
    summary: "CPU on {{ $labels.agent }} at {{ $value | humanizePercentage }}"
`;

function file(rules: string, route = '', extra = ''): string {
  return `evaluation_interval: 15s
rules:${rules}
route:
  receiver: team
  group_by: [alertname]
  group_wait: 10s
  group_interval: 1m
  repeat_interval: 1h
${route}
receivers:
  - name: team
  - name: pager
  - name: audit
${extra}`;
}

describe('rule life cycle', () => {
  it('goes pending, fires after for, notifies after group_wait, holds at the recovery level and resolves below it', async () => {
    const r = rig(file(cpuRule));
    r.values.set('system.cpu.utilization', 'web-1', 0.95, T0 + 15_000);
    await r.step(15_000);
    expect(r.engine.list(r.clock.now).map((a) => a.state)).toEqual(['pending']);
    r.values.set('system.cpu.utilization', 'web-1', 0.95, T0 + 30_000);
    await r.step(15_000);
    expect(r.engine.list(r.clock.now).map((a) => a.state)).toEqual(['pending']);
    r.values.set('system.cpu.utilization', 'web-1', 0.96, T0 + 45_000);
    expect(await r.step(15_000)).toEqual([]); // firing, but the group waits 10 s
    const [first] = await r.step(15_000);
    expect(first?.firing.map((a) => a.labels)).toEqual([{ agent: 'web-1', severity: 'critical', alertname: 'HighCpu' }]);
    expect(first?.firing[0]?.annotations.summary).toBe('CPU on web-1 at 96%');

    r.values.set('system.cpu.utilization', 'web-1', 0.85, T0 + 75_000); // under the threshold, over the recovery level
    await r.step(15_000);
    expect(r.engine.list(r.clock.now).map((a) => a.state)).toEqual(['firing']);
    r.values.set('system.cpu.utilization', 'web-1', 0.7, T0 + 90_000);
    await r.step(15_000);
    expect(r.engine.list(r.clock.now).map((a) => a.state)).toEqual(['resolved']);
    await r.step(15_000); // 105 s: group_interval (next flush at 120 s) not reached
    const [resolved] = await r.step(15_000);
    expect(resolved?.firing).toEqual([]);
    expect(resolved?.resolved.map((a) => a.labels.agent)).toEqual(['web-1']);
    expect(r.sentTo('team')).toHaveLength(2);
  });

  it('keeps firing for keep_firing_for after the condition clears', async () => {
    const r = rig(file(cpuRule.replace('for: 30s', 'for: 0s\n    keep_firing_for: 45s')));
    r.values.set('system.cpu.utilization', 'web-1', 0.95, T0 + 15_000);
    await r.step(15_000);
    for (let i = 0; i < 3; i += 1) {
      r.values.set('system.cpu.utilization', 'web-1', 0.1, r.clock.now + 15_000);
      await r.step(15_000);
      expect(r.engine.list(r.clock.now)[0]?.state).toBe('firing');
    }
    r.values.set('system.cpu.utilization', 'web-1', 0.1, r.clock.now + 15_000);
    await r.step(15_000);
    expect(r.engine.list(r.clock.now)[0]?.state).toBe('resolved');
  });

  it('detects flapping: one notification with the flag, no churn until it settles, then it resolves', async () => {
    const r = rig(file(cpuRule.replace('for: 30s', 'for: 0s').replace('    recover: 0.8\n', '')));
    const flip = (high: boolean): void => r.values.set('system.cpu.utilization', 'web-1', high ? 0.95 : 0.5, r.clock.now + 15_000);
    for (let i = 0; i < 8; i += 1) {
      flip(i % 2 === 0);
      await r.step(15_000);
    }
    const alerts = r.engine.list(r.clock.now);
    expect(alerts).toHaveLength(1);
    expect(alerts[0]?.flapping).toBe(true);
    expect(alerts[0]?.state).toBe('firing');
    const flapNotes = r.sentTo('team').filter((n) => n.firing.some((a) => a.flapping));
    expect(flapNotes).toHaveLength(1);
    const before = r.sentTo('team').length;
    for (let i = 0; i < 6; i += 1) {
      flip(i % 2 === 0);
      await r.step(15_000);
    }
    expect(r.sentTo('team').length).toBe(before); // still flapping: held firing, nothing new
    for (let i = 0; i < 22; i += 1) {
      flip(false);
      await r.step(15_000);
    }
    const last = r.sentTo('team').at(-1);
    expect(last?.resolved.map((a) => a.labels.alertname)).toEqual(['HighCpu']);
    expect(r.engine.list(r.clock.now).find((a) => a.state === 'firing')).toBeUndefined();
  });

  it('NoData fires SlothNoData, a collector error fires SlothRuleError, keep_state holds a firing alert', async () => {
    const r = rig(file(cpuRule.replace('for: 30s', 'for: 0s')));
    await r.step(15_000);
    expect(r.engine.list(r.clock.now)).toEqual([]); // just started: sources get stale_after (5m) to report
    await r.step(5 * 60_000);
    expect(r.engine.list(r.clock.now).map((a) => [a.labels.alertname, a.labels.rule, a.state])).toEqual([['SlothNoData', 'HighCpu', 'firing']]);
    r.values.failure = 'collector at http://127.0.0.1:4318 did not answer';
    await r.step(15_000);
    const names = r.engine.list(r.clock.now).filter((a) => a.state === 'firing').map((a) => a.labels.alertname);
    expect(names).toContain('SlothRuleError');

    const k = rig(file(cpuRule.replace('for: 30s', 'for: 0s\n    on_error: keep_state\n    no_data: ok')));
    k.values.set('system.cpu.utilization', 'db-1', 0.99, T0 + 15_000);
    await k.step(15_000);
    k.values.failure = 'down';
    await k.step(15_000);
    await k.step(15_000);
    expect(k.engine.list(k.clock.now).map((a) => [a.labels.agent, a.state])).toEqual([['db-1', 'firing']]);
    k.values.failure = undefined;
    k.values.points = [];
    await k.step(5 * 60_000); // past the start-up grace, no data counts (no_data: ok)
    expect(k.engine.list(k.clock.now).map((a) => a.state)).toEqual(['resolved']);
  });
});

describe('reload', () => {
  it('keeps the alerts of unchanged rules and resolves those of removed rules', async () => {
    const rules = `${cpuRule.replace('for: 30s', 'for: 0s')}
  - name: CpuWarm
    type: threshold
    metric: system.cpu.utilization
    op: '>'
    threshold: 0.5`;
    const r = rig(file(rules));
    r.values.set('system.cpu.utilization', 'web-1', 0.95, T0 + 15_000);
    await r.step(15_000);
    const before = r.engine.list(r.clock.now);
    expect(before.map((a) => [a.labels.alertname, a.state]).sort()).toEqual([['CpuWarm', 'firing'], ['HighCpu', 'firing']]);
    r.engine.reload(parseAlertsFile(file(cpuRule.replace('for: 30s', 'for: 0s'))));
    const after = r.engine.list(r.clock.now);
    expect(after.map((a) => [a.labels.alertname, a.state, a.endsAtMillis]).sort()).toEqual([['CpuWarm', 'resolved', r.clock.now], ['HighCpu', 'firing', undefined]]);
    expect(after.find((a) => a.labels.alertname === 'HighCpu')?.startsAtMillis).toBe(before.find((a) => a.labels.alertname === 'HighCpu')?.startsAtMillis);
  });
});

describe('routing', () => {
  const routes = `  routes:
    - matchers: ['severity="critical"']
      receiver: pager
      group_by: [alertname, agent]
      continue: true
    - matchers: ['agent=~"web-.*"']
      receiver: audit`;

  it('groups by labels, waits group_interval for additions, repeats after repeat_interval', async () => {
    const r = rig(file(cpuRule.replace('for: 30s', 'for: 0s').replace('severity: critical', 'severity: warning')));
    r.values.set('system.cpu.utilization', 'db-1', 0.95, T0 + 15_000);
    r.values.set('system.cpu.utilization', 'db-2', 0.95, T0 + 15_000);
    await r.step(15_000);
    await r.step(15_000);
    expect(r.sentTo('team').map((n) => n.firing.length)).toEqual([2]);
    r.values.set('system.cpu.utilization', 'db-3', 0.95, r.clock.now);
    for (const id of ['db-1', 'db-2', 'db-3']) r.values.set('system.cpu.utilization', id, 0.95, r.clock.now + 15_000);
    await r.step(15_000); // 45 s: new alert, but the group flushed at 30 s and waits until 90 s
    expect(r.sentTo('team')).toHaveLength(1);
    for (let t = 0; t < 3; t += 1) {
      for (const id of ['db-1', 'db-2', 'db-3']) r.values.set('system.cpu.utilization', id, 0.95, r.clock.now + 15_000);
      await r.step(15_000);
    }
    expect(r.sentTo('team').map((n) => n.firing.length)).toEqual([2, 3]);
    expect(r.sentTo('team')[1]?.newlyFiring.map((a) => a.labels.agent)).toEqual(['db-3']);
    // Unchanged for 59 minutes: nothing; at the repeat interval: the same set again.
    for (let t = 0; t < 58 * 4; t += 1) {
      for (const id of ['db-1', 'db-2', 'db-3']) r.values.set('system.cpu.utilization', id, 0.95, r.clock.now + 15_000);
      await r.step(15_000);
    }
    expect(r.sentTo('team')).toHaveLength(2);
    for (let t = 0; t < 2 * 4; t += 1) {
      for (const id of ['db-1', 'db-2', 'db-3']) r.values.set('system.cpu.utilization', id, 0.95, r.clock.now + 15_000);
      await r.step(15_000);
    }
    expect(r.sentTo('team')).toHaveLength(3);
    expect(r.sentTo('team')[2]?.firing).toHaveLength(3);
    expect(r.sentTo('team')[2]?.newlyFiring).toEqual([]);
  });

  it('walks the route tree with matchers and continue', () => {
    const f = parseAlertsFile(file(cpuRule, routes));
    const at = T0;
    expect(testRoutes(f, { alertname: 'X', severity: 'critical', agent: 'web-1' }, at).map((r) => r.receiver)).toEqual(['pager', 'audit']);
    expect(testRoutes(f, { alertname: 'X', severity: 'critical', agent: 'db-1' }, at).map((r) => [r.receiver, r.groupLabels])).toEqual([['pager', { alertname: 'X', agent: 'db-1' }]]);
    expect(testRoutes(f, { alertname: 'X', severity: 'warning', agent: 'db-1' }, at).map((r) => r.receiver)).toEqual(['team']);
    expect(testRoutes(f, { alertname: 'X', severity: 'warning', agent: 'web-9' }, at).map((r) => r.receiver)).toEqual(['audit']);
  });

  it('inhibits warnings on an agent with a critical alert, not on other agents', async () => {
    const rules = `${cpuRule.replace('for: 30s', 'for: 0s')}
  - name: CpuWarm
    type: threshold
    metric: system.cpu.utilization
    op: '>'
    threshold: 0.5
    severity: warning`;
    const r = rig(file(rules, '', `inhibit_rules:\n  - source_matchers: ['severity="critical"']\n    target_matchers: ['severity="warning"']\n    equal: [agent]`).replace('group_by: [alertname]', 'group_by: [agent]'));
    r.values.set('system.cpu.utilization', 'web-1', 0.95, T0 + 15_000);
    r.values.set('system.cpu.utilization', 'web-2', 0.6, T0 + 15_000);
    await r.step(15_000);
    await r.step(0);
    r.values.set('system.cpu.utilization', 'web-1', 0.95, T0 + 30_000);
    r.values.set('system.cpu.utilization', 'web-2', 0.6, T0 + 30_000);
    await r.step(15_000);
    const sent = r.sentTo('team').flatMap((n) => n.firing.map((a) => `${a.labels.alertname}@${a.labels.agent}`)).sort();
    expect(sent).toEqual(['CpuWarm@web-2', 'HighCpu@web-1']);
    const warm = r.engine.list(r.clock.now).find((a) => a.labels.alertname === 'CpuWarm' && a.labels.agent === 'web-1');
    expect(warm?.inhibitedBy).toBe('inhibit_rules[0]');
  });

  it('silences hold notifications until they expire; resolved of silenced alerts only with send_resolved_for_muted', async () => {
    for (const sendResolvedForMuted of [false, true]) {
      const r = rig(`send_resolved_for_muted: ${sendResolvedForMuted}\n${file(cpuRule.replace('for: 30s', 'for: 0s'))}`);
      const silence = await r.silences.add({ matchers: ['agent="web-1"'], endsAtMillis: T0 + 120_000, createdBy: 'ops', comment: 'maintenance' }, T0);
      r.values.set('system.cpu.utilization', 'web-1', 0.95, T0 + 15_000);
      await r.step(15_000);
      await r.step(15_000);
      expect(r.sentTo('team')).toEqual([]);
      expect(r.engine.list(r.clock.now)[0]?.silencedBy).toBe(silence.id);
      r.values.set('system.cpu.utilization', 'web-1', 0.1, r.clock.now + 15_000);
      await r.step(15_000);
      for (let i = 0; i < 5; i += 1) await r.step(15_000);
      expect(r.sentTo('team').map((n) => n.resolved.length)).toEqual(sendResolvedForMuted ? [1] : []);
    }
    const r = rig(file(cpuRule.replace('for: 30s', 'for: 0s')));
    await r.silences.add({ matchers: ['agent="web-1"'], endsAtMillis: T0 + 60_000, createdBy: 'ops', comment: 'short' }, T0);
    for (let i = 0; i < 8; i += 1) {
      r.values.set('system.cpu.utilization', 'web-1', 0.95, r.clock.now + 15_000);
      await r.step(15_000);
    }
    expect(r.sentTo('team').map((n) => n.firing.length)).toEqual([1]);
    expect(r.sentTo('team')[0]?.atMillis).toBeGreaterThanOrEqual(T0 + 60_000);
  });

  it('time intervals: a mute interval holds a route, an active interval restricts it', async () => {
    const intervals = `time_intervals:
  - name: lunch
    time_intervals: [{ times: [{ start_time: "12:00", end_time: "13:00" }], weekdays: ['monday:friday'] }]
  - name: weekend
    time_intervals: [{ weekdays: [saturday, sunday] }]`;
    const muted = rig(file(cpuRule.replace('for: 30s', 'for: 0s'), '  mute_time_intervals: [lunch]', intervals));
    const active = rig(file(cpuRule.replace('for: 30s', 'for: 0s'), '  active_time_intervals: [weekend]', intervals));
    for (const r of [muted, active]) {
      for (let i = 0; i < 10; i += 1) {
        r.values.set('system.cpu.utilization', 'web-1', 0.95, r.clock.now + 15_000);
        await r.step(15_000);
      }
    }
    expect(muted.sentTo('team')).toEqual([]); // Monday 12:02: lunch
    expect(active.sentTo('team')).toEqual([]); // not the weekend
    for (let i = 0; i < 4 * 60; i += 1) {
      muted.values.set('system.cpu.utilization', 'web-1', 0.95, muted.clock.now + 15_000);
      await muted.step(15_000);
    }
    expect(muted.sentTo('team')).toHaveLength(1);
    expect(new Date(muted.sentTo('team')[0]?.atMillis ?? 0).getUTCHours()).toBe(13);
    const f = parseAlertsFile(file(cpuRule, '  active_time_intervals: [weekend]', intervals));
    expect(testRoutes(f, { alertname: 'HighCpu' }, T0)[0]?.mutedBy).toBe('outside active time intervals weekend');
    expect(testRoutes(f, { alertname: 'HighCpu' }, Date.UTC(2026, 0, 10, 9))[0]?.mutedBy).toBeUndefined();
  });
});

describe('signal rules', () => {
  const anomalyRules = `
  - name: CpuAnomalyHigh
    type: anomaly
    metric: system.cpu.*
    min_score: 0.9
    direction: above
    min_duration: 30s
    severity: warning
    summary: "{{ $labels.metric }} at {{ $value }} (expected {{ $expected_low }}-{{ $expected_high }})"`;

  const anomaly = (extra: Record<string, unknown>, t: number, score = 0.95, value = 97): Parameters<SignalStore['addAnomaly']>[0] => ({
    seriesId: 'system.cpu.utilization{cpu="0"}', agentId: 'web-1', metric: 'system.cpu.utilization', timestampMillis: t, value, score, expectedLow: 10, expectedHigh: 40, modelVersion: 't', ...extra,
  });

  it('fires on an open incident in the right direction after its minimum duration, resolves on its resolved transition', async () => {
    const r = rig(file(anomalyRules.replace('for: 30s', '')));
    r.signals.addAnomaly(anomaly({ incidentId: 'i1', state: 'open', direction: 'above' }, T0 + 1000), T0 + 1000);
    await r.step(15_000);
    expect(r.engine.list(r.clock.now)).toEqual([]); // lasted 0 s < 30 s
    r.signals.addAnomaly(anomaly({ incidentId: 'i1', state: 'update', direction: 'above' }, T0 + 40_000), T0 + 40_000);
    await r.step(30_000);
    const [alert] = r.engine.list(r.clock.now);
    expect(alert?.labels).toMatchObject({ alertname: 'CpuAnomalyHigh', agent: 'web-1', cpu: '0', direction: 'above' });
    expect(alert?.annotations.summary).toBe('system.cpu.utilization at 97 (expected 10-40)');
    r.signals.addAnomaly(anomaly({ incidentId: 'i1', state: 'resolved', direction: 'above' }, T0 + 50_000), T0 + 50_000);
    await r.step(15_000);
    expect(r.engine.list(r.clock.now).map((a) => a.state)).toEqual(['resolved']);
  });

  it('ignores a dip for an "above" rule, and without incident fields infers direction and ends by age', async () => {
    const r = rig(file(anomalyRules.replace('min_duration: 30s', 'min_duration: 0s')));
    r.signals.addAnomaly(anomaly({ incidentId: 'i2', state: 'open', direction: 'below' }, T0 + 1000, 0.99, 2), T0 + 1000);
    await r.step(15_000);
    expect(r.engine.list(r.clock.now)).toEqual([]);
    r.signals.addAnomaly(anomaly({}, T0 + 20_000, 0.97, 99), T0 + 20_000); // older analytics: no incident fields
    await r.step(15_000);
    expect(r.engine.list(r.clock.now).map((a) => [a.labels.direction, a.state])).toEqual([['above', 'firing']]);
    r.signals.addForecast({ seriesId: 'x{}', agentId: 'a', metric: 'x', issuedAtMillis: r.clock.now, stepMillis: 1000, points: [], model: 'm', modelVersion: '1' }, r.clock.now);
    for (let i = 0; i < 21; i += 1) await r.step(15_000); // resolve_after 5m
    expect(r.engine.list(r.clock.now).map((a) => a.state)).toEqual(['resolved']);
  });

  it('analytics quiet for quiet_after is no data: SlothNoData fires for the rule and resolves when analytics reports again', async () => {
    const r = rig(file(anomalyRules.replace('min_duration: 30s', 'min_duration: 0s\n    quiet_after: 10m')));
    r.signals.addAnomaly(anomaly({ incidentId: 'q1', state: 'open', direction: 'above' }, T0 + 1000), T0 + 1000);
    await r.step(15_000);
    expect(r.engine.list(r.clock.now).map((a) => a.labels.alertname)).toEqual(['CpuAnomalyHigh']);
    for (let i = 0; i < 40; i += 1) await r.step(15_000); // 10 min 15 s without a word from analytics
    const noData = (): string[] => r.engine.list(r.clock.now).filter((a) => a.labels.alertname === 'SlothNoData').map((a) => `${a.labels.rule}:${a.state}`);
    expect(noData()).toEqual(['CpuAnomalyHigh:firing']);
    // no_data: nodata keeps the rule's own alert as it was.
    expect(r.engine.list(r.clock.now).find((a) => a.labels.alertname === 'CpuAnomalyHigh')?.state).toBe('firing');
    r.signals.addAnomaly(anomaly({ incidentId: 'q1', state: 'resolved', direction: 'above' }, r.clock.now), r.clock.now);
    await r.step(15_000);
    expect(noData()).toEqual(['CpuAnomalyHigh:resolved']);
    expect(r.engine.list(r.clock.now).find((a) => a.labels.alertname === 'CpuAnomalyHigh')?.state).toBe('resolved');
  });

  it('forecast rules need the breach within the horizon and the current-level guard', async () => {
    const rules = `
  - name: DiskWillFill
    type: forecast
    metric: system.filesystem.utilization
    op: '>'
    threshold: 0.95
    within: 4h
    guard: { op: '>', threshold: 0.8 }
    no_data: ok
    severity: critical`;
    const r = rig(file(rules));
    const forecast = (seriesId: string, agentId: string, crossAtMillis: number): void =>
      r.signals.addForecast({ seriesId, agentId, metric: 'system.filesystem.utilization', issuedAtMillis: r.clock.now, stepMillis: 3_600_000, model: 'm', modelVersion: '1', points: [1, 2, 3, 4, 5, 6].map((h) => ({ timestampMillis: r.clock.now + h * 3_600_000, p10: 0.9, p50: r.clock.now + h * 3_600_000 >= crossAtMillis ? 0.97 : 0.9, p90: 0.99 })) }, r.clock.now);
    forecast('system.filesystem.utilization{agent="a",mountpoint="/"}', 'a', r.clock.now + 3 * 3_600_000); // crosses in 3 h
    forecast('system.filesystem.utilization{agent="b",mountpoint="/"}', 'b', r.clock.now + 5 * 3_600_000); // crosses in 5 h
    forecast('system.filesystem.utilization{agent="c",mountpoint="/"}', 'c', r.clock.now + 3_600_000); // crosses in 1 h, but only 50 % full now
    r.values.points = [
      { key: 'system.filesystem.utilization{agent="a",mountpoint="/"}', name: 'system.filesystem.utilization', agentId: 'a', kind: 'gauge', unit: '1', labels: { mountpoint: '/' }, t: T0, v: 0.85 },
      { key: 'system.filesystem.utilization{agent="b",mountpoint="/"}', name: 'system.filesystem.utilization', agentId: 'b', kind: 'gauge', unit: '1', labels: { mountpoint: '/' }, t: T0, v: 0.85 },
      { key: 'system.filesystem.utilization{agent="c",mountpoint="/"}', name: 'system.filesystem.utilization', agentId: 'c', kind: 'gauge', unit: '1', labels: { mountpoint: '/' }, t: T0, v: 0.5 },
    ];
    await r.step(1000);
    expect(r.engine.list(r.clock.now).map((a) => a.labels.agent)).toEqual(['a']);
  });

  it('grades forecast rules: a breach before the deadline is a hit with its lead time, none is a miss', async () => {
    const r = rig(file(`
  - name: DiskWillFill
    type: forecast
    metric: disk.used
    op: '>'
    threshold: 0.95
    within: 1h
    no_data: ok`));
    const forecastAt = (agent: string): void =>
      r.signals.addForecast({ seriesId: `disk.used{agent="${agent}"}`, agentId: agent, metric: 'disk.used', issuedAtMillis: r.clock.now, stepMillis: 600_000, model: 'm', modelVersion: '1', points: [{ timestampMillis: r.clock.now + 1_800_000, p10: 0.9, p50: 0.97, p90: 0.99 }] }, r.clock.now);
    forecastAt('a');
    forecastAt('b');
    await r.step(1000); // both fire at T0 + 1 s
    expect(r.engine.list(r.clock.now).map((x) => x.labels.agent).sort()).toEqual(['a', 'b']);
    // 40 minutes later disk a is over 95 %; disk b never gets there.
    r.clock.now += 40 * 60_000;
    r.values.points = [
      { key: 'disk.used{agent="a"}', name: 'disk.used', agentId: 'a', kind: 'gauge', unit: '1', labels: {}, t: r.clock.now, v: 0.96 },
      { key: 'disk.used{agent="b"}', name: 'disk.used', agentId: 'b', kind: 'gauge', unit: '1', labels: {}, t: r.clock.now, v: 0.5 },
    ];
    await r.step(0);
    expect(r.engine.grader.scores()).toEqual([{ rule: 'DiskWillFill', predictions: 1, hits: 1, precision: 1, medianLeadMillis: 40 * 60_000, pending: 1 }]);
    await r.step(21 * 60_000); // past b's deadline
    expect(r.engine.grader.scores()).toEqual([{ rule: 'DiskWillFill', predictions: 2, hits: 1, precision: 0.5, medianLeadMillis: 40 * 60_000, pending: 0 }]);
  });

  it('absence: a series silent for silent_for fires per series until it reports again; no series at all is one alert', async () => {
    const r = rig(file(`
  - name: MemorySilent
    type: absence
    metric: system.memory.usage
    silent_for: 10m
    severity: warning
    summary: "{{ $labels.agent }} silent for {{ $value }} s"`));
    r.values.set('system.memory.usage', 'web-1', 1e9, T0);
    r.values.set('system.memory.usage', 'web-2', 1e9, T0);
    await r.step(60_000);
    expect(r.engine.list(r.clock.now)).toEqual([]);
    // web-2 keeps reporting, web-1 stops: past 10 minutes only web-1 is absent.
    for (let i = 0; i < 10; i += 1) {
      r.values.set('system.memory.usage', 'web-2', 1e9, r.clock.now + 60_000);
      await r.step(60_000);
    }
    expect(r.engine.list(r.clock.now).map((a) => [a.labels.alertname, a.labels.agent, a.state])).toEqual([['MemorySilent', 'web-1', 'firing']]);
    expect(r.engine.list(r.clock.now)[0]?.annotations.summary).toBe('web-1 silent for 660 s');
    r.values.set('system.memory.usage', 'web-1', 1e9, r.clock.now + 15_000);
    await r.step(15_000);
    expect(r.engine.list(r.clock.now).map((a) => [a.labels.agent, a.state])).toEqual([['web-1', 'resolved']]);

    const empty = rig(file(`
  - name: MemorySilent
    type: absence
    metric: system.memory.usage
    silent_for: 10m`));
    // A role that has just started has not seen 10 minutes of silence: nothing fires at first.
    await empty.step(15_000);
    expect(empty.engine.list(empty.clock.now)).toEqual([]);
    for (let i = 0; i < 10; i += 1) await empty.step(60_000);
    expect(empty.engine.list(empty.clock.now).map((a) => [a.labels, a.state])).toEqual([[{ severity: 'warning', alertname: 'MemorySilent' }, 'firing']]);

    // A series that appears ends the absence, and its timer starts again when every series is gone.
    const late = rig(file(`
  - name: MemorySilent
    type: absence
    metric: system.memory.usage
    silent_for: 10m`));
    await late.step(5 * 60_000);
    late.values.set('system.memory.usage', 'web-1', 1e9, late.clock.now + 15_000);
    await late.step(15_000);
    late.values.points = [];
    for (let i = 0; i < 6; i += 1) await late.step(60_000);
    expect(late.engine.list(late.clock.now)).toEqual([]);
  });

  it('absence: an agent reported down fires until it is up again', async () => {
    const r = rig(file(`
  - name: AgentDown
    type: absence
    agent_down: true
    severity: critical`));
    r.signals.addEvent({ type: 'agent_down', agentId: 'web-7', timestampMillis: T0, attributes: {} });
    await r.step(15_000);
    expect(r.engine.list(r.clock.now).map((a) => [a.labels.alertname, a.labels.agent, a.state])).toEqual([['AgentDown', 'web-7', 'firing']]);
    r.signals.addEvent({ type: 'agent_up', agentId: 'web-7', timestampMillis: T0 + 20_000, attributes: {} });
    await r.step(15_000);
    expect(r.engine.list(r.clock.now).map((a) => a.state)).toEqual(['resolved']);
  });
});
