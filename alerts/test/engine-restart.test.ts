import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { redisKeys } from '@sloth/core';
import { AlertStateStore, NotificationLog, Silences, type SignalStore } from '../src/index.js';
import { rig, T0, type Rig, startPrivateRedis, type PrivateRedis } from './helpers.js';

const rules = `evaluation_interval: 15s
rules:
  - name: CpuWarn
    type: threshold
    metric: system.cpu.utilization
    op: '>'
    threshold: 0.7
    severity: warning
  - name: CpuSustained
    type: threshold
    metric: system.cpu.utilization
    op: '>'
    threshold: 0.7
    for: 5m
    severity: info
  - name: AgentDown
    type: absence
    agent_down: true
    severity: critical
  - name: CpuAnomaly
    type: anomaly
    metric: "system.cpu.*"
    min_score: 0.9
    min_duration: 30s
    resolve_after: 2m
    severity: warning
route:
  receiver: team
  group_by: [alertname, agent]
  group_wait: 0s
  group_interval: 15s
  repeat_interval: 1h
inhibit_rules:
  - source_matchers: ['severity="critical"']
    target_matchers: ['severity="warning"']
    equal: [agent]
receivers:
  - name: team
`;

/**
 * The engine stopped and made again on the same Redis (notification log and alert state), with a
 * stepped clock: what the restart keeps, and that routing treats it as it would without a restart.
 */
describe('engine state across a restart', () => {
  let db: PrivateRedis;
  let n = 0;
  beforeAll(async () => {
    db = await startPrivateRedis('sloth-engine-restart-');
  });
  afterAll(async () => db.stop());

  /** A first engine, and a way to stop it and start the next one `gapMillis` later on the same Redis. */
  const lives = (silences = new Silences()): { first: Rig; restart: (gapMillis: number) => Promise<Rig> } => {
    const keys = redisKeys(`engine-restart-${(n += 1)}`);
    const state = new AlertStateStore({ redis: db.redis, keys });
    const first = rig(rules, { log: new NotificationLog({ redis: db.redis, keys }), state, silences });
    return {
      first,
      restart: async (gapMillis) => {
        await first.engine.idle();
        await state.flush();
        const start = first.clock.now + gapMillis;
        const log = new NotificationLog({ redis: db.redis, keys });
        await log.load(start);
        const next = rig(rules, { log, state: new AlertStateStore({ redis: db.redis, keys }), silences, start });
        await next.engine.restore(start);
        return next;
      },
    };
  };
  const states = (r: Rig, alertname: string): Array<[string | undefined, string, number]> =>
    r.engine
      .list(r.clock.now)
      .filter((a) => a.labels.alertname === alertname)
      .map((a): [string | undefined, string, number] => [a.labels.agent, a.state, a.startsAtMillis])
      .sort((a, b) => (a[0] ?? '').localeCompare(b[0] ?? ''));
  const only = (r: Rig, alertname: string): Array<[string, string[], string[]]> =>
    r.sentTo('team').flatMap((s) => {
      const firing = s.firing.filter((a) => a.labels.alertname === alertname).map((a) => a.labels.agent ?? '');
      const resolved = s.resolved.filter((a) => a.labels.alertname === alertname).map((a) => a.labels.agent ?? '');
      return firing.length + resolved.length === 0 ? [] : [[alertname, firing, resolved] as [string, string[], string[]]];
    });

  it('a resolution while the role was down is sent, unless the alert is silenced at the restart (as a live resolution)', async () => {
    const silences = new Silences();
    const { first, restart } = lives(silences);
    first.values.set('system.cpu.utilization', 'web-1', 0.95, T0 + 15_000);
    first.values.set('system.cpu.utilization', 'web-2', 0.95, T0 + 15_000);
    await first.step(15_000);
    expect(only(first, 'CpuWarn')).toEqual([['CpuWarn', ['web-1'], []], ['CpuWarn', ['web-2'], []]]);

    await silences.add({ matchers: ['agent="web-2"'], endsAtMillis: T0 + 3_600_000, createdBy: 'ops', comment: 'maintenance' }, T0 + 20_000);
    const next = await restart(60_000);
    next.values.set('system.cpu.utilization', 'web-1', 0.1, next.clock.now + 15_000);
    next.values.set('system.cpu.utilization', 'web-2', 0.1, next.clock.now + 15_000);
    await next.step(15_000);
    await next.step(15_000);
    expect(only(next, 'CpuWarn')).toEqual([['CpuWarn', [], ['web-1']]]);
    expect(states(next, 'CpuWarn').map(([agent, state]) => [agent, state])).toEqual([['web-1', 'resolved'], ['web-2', 'resolved']]);
  });

  it('keeps the wait of a pending `for`: the alert fires for: after it went pending, not after the restart', async () => {
    const { first, restart } = lives();
    first.values.set('system.cpu.utilization', 'web-1', 0.95, T0 + 15_000);
    await first.step(15_000);
    for (let i = 0; i < 3; i += 1) await first.step(60_000);
    expect(states(first, 'CpuSustained')).toEqual([['web-1', 'pending', T0 + 15_000]]);

    const next = await restart(0);
    expect(states(next, 'CpuSustained')).toEqual([['web-1', 'pending', T0 + 15_000]]);
    next.values.set('system.cpu.utilization', 'web-1', 0.95, next.clock.now + 120_000);
    await next.step(60_000);
    expect(states(next, 'CpuSustained').map(([, state]) => state)).toEqual(['pending']);
    await next.step(60_000); // T0 + 5m15s: five minutes since it went pending
    expect(states(next, 'CpuSustained')).toEqual([['web-1', 'firing', T0 + 315_000]]);
  });

  it('an agent down before the restart still inhibits its warnings after it, until the agent is back', async () => {
    const { first, restart } = lives();
    first.signals.addEvent({ type: 'agent_down', agentId: 'web-3', timestampMillis: T0, attributes: {} });
    first.values.set('system.cpu.utilization', 'web-3', 0.8, T0 + 15_000);
    await first.step(15_000);
    expect(only(first, 'AgentDown')).toEqual([['AgentDown', ['web-3'], []]]);
    expect(only(first, 'CpuWarn')).toEqual([]);

    // The new engine has a fresh signal store: the agent_down event is behind the stream cursor.
    const next = await restart(30_000);
    next.values.set('system.cpu.utilization', 'web-3', 0.8, next.clock.now + 15_000);
    await next.step(15_000);
    await next.step(15_000);
    expect(next.sentTo('team')).toEqual([]);
    expect(states(next, 'AgentDown')).toEqual([['web-3', 'firing', T0 + 15_000]]);
    expect(next.engine.list(next.clock.now).find((a) => a.labels.alertname === 'CpuWarn')?.inhibitedBy).toBe('inhibit_rules[0]');

    next.signals.addEvent({ type: 'agent_up', agentId: 'web-3', timestampMillis: next.clock.now, attributes: {} });
    next.values.set('system.cpu.utilization', 'web-3', 0.8, next.clock.now + 15_000);
    await next.step(15_000);
    expect(only(next, 'AgentDown')).toEqual([['AgentDown', [], ['web-3']]]);
    expect(only(next, 'CpuWarn')).toEqual([['CpuWarn', ['web-3'], []]]);
  });

  it('holds an anomaly alert while analytics has not spoken again: an update keeps it, silence past resolve_after resolves it', async () => {
    const anomaly = (agentId: string, state: 'open' | 'update' | 'resolved', t: number): Parameters<SignalStore['addAnomaly']>[0] => ({
      seriesId: `system.cpu.utilization{agent=${agentId}}`, agentId, metric: 'system.cpu.utilization', timestampMillis: t, value: 97, score: 0.95, expectedLow: 10, expectedHigh: 40, modelVersion: 't', incidentId: `i-${agentId}`, state, direction: 'above',
    });
    const { first, restart } = lives();
    for (const agent of ['web-4', 'web-5']) {
      first.signals.addAnomaly(anomaly(agent, 'open', T0), T0);
      first.signals.addAnomaly(anomaly(agent, 'update', T0 + 40_000), T0 + 40_000);
    }
    await first.step(45_000);
    expect(states(first, 'CpuAnomaly').map(([agent, state]) => [agent, state])).toEqual([['web-4', 'firing'], ['web-5', 'firing']]);

    const next = await restart(10_000);
    const restartMillis = next.clock.now;
    await next.step(15_000);
    expect(states(next, 'CpuAnomaly').map(([agent, state]) => [agent, state])).toEqual([['web-4', 'firing'], ['web-5', 'firing']]);
    // web-4's incident goes on: its next update (seen anew, lasting 0 s) keeps the alert, with its start.
    next.signals.addAnomaly(anomaly('web-4', 'update', next.clock.now), next.clock.now);
    for (let t = next.clock.now; t < restartMillis + 150_000; t += 15_000) {
      next.signals.addAnomaly(anomaly('web-4', 'update', t), t);
      await next.step(15_000);
    }
    expect(states(next, 'CpuAnomaly')).toEqual([['web-4', 'firing', T0 + 45_000], ['web-5', 'resolved', T0 + 45_000]]);
    expect(only(next, 'CpuAnomaly')).toEqual([['CpuAnomaly', [], ['web-5']]]);
  });
});
