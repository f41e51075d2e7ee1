import { describe, expect, it } from 'vitest';
import { buildReportModel, renderCsv, renderMarkdown, type AlertNotificationRecord, type CollectedData, type CollectedSeries, type ScalingDecisionRecord } from '../src/index.js';
import { daysUntil, fitSeasonalTrend, gradeForecast, hourlyMeans, quantile } from '../src/stats.js';

const hour = 3_600_000;
const day = 24 * hour;
const to = Date.UTC(2026, 0, 15);
const from = to - 7 * day;

/** Hourly buckets of `value(t)` over [start, end). */
function buckets(start: number, end: number, value: (t: number) => number): CollectedSeries['current'] {
  const out = [];
  for (let t = start; t < end; t += hour) out.push({ t, min: value(t) - 0.01, max: value(t) + 0.01, avg: value(t) });
  return out;
}

function data(overrides: Partial<CollectedData> = {}): CollectedData {
  const disk = (t: number): number => 0.5 + (0.02 * (t - from)) / day; // +2 points a day
  return {
    collector: 'http://127.0.0.1:4318',
    fromMillis: from,
    toMillis: to,
    previousFromMillis: from - 7 * day,
    bucketMillis: hour,
    availabilityBucketMillis: 60_000,
    agents: [
      { id: 'b-host', state: 'up', firstSeenMillis: 0, lastSeenMillis: to, presentBuckets: 10_080, presentBucketsPrevious: 10_080 },
      { id: 'a-host', state: 'down', firstSeenMillis: 0, lastSeenMillis: to - day, presentBuckets: 5_040, presentBucketsPrevious: 10_080 },
    ],
    series: [
      { key: 'cpu{agent="b-host"}', agentId: 'b-host', metric: 'cpu', instance: '', current: buckets(from, to, () => 0.4), previous: buckets(from - 7 * day, from, () => 0.2) },
      { key: 'disk{agent="b-host"}', agentId: 'b-host', metric: 'disk', instance: '/', current: buckets(from, to, disk), previous: buckets(from - 7 * day, from, disk) },
      { key: 'cpu{agent="a-host"}', agentId: 'a-host', metric: 'cpu', instance: '', current: buckets(from, from + 3.5 * day, () => 0.8), previous: [] },
    ],
    incidents: {
      available: true,
      items: [
        { incidentId: 'i1', seriesId: 'cpu{agent="a-host"}', agentId: 'a-host', metric: 'cpu', openedAtMillis: from + day, resolvedAtMillis: from + day + hour, maxScore: 0.9, direction: 'above' },
        { incidentId: 'i2', seriesId: 'cpu{agent="a-host"}', agentId: 'a-host', metric: 'cpu', openedAtMillis: from + 2 * day, resolvedAtMillis: null, maxScore: 0.7, direction: 'above' },
        { incidentId: 'i0', seriesId: 'cpu{agent="b-host"}', agentId: 'b-host', metric: 'cpu', openedAtMillis: from - day, resolvedAtMillis: from - day + hour, maxScore: 0.6, direction: 'below' },
      ],
    },
    remediations: {
      available: true,
      items: [
        { id: 'r2', agentId: 'a-host', playbook: 'restart', state: 'failed', createdAtMillis: from + 2 * day, durationMillis: 1200, message: 'exit 1' },
        { id: 'r1', agentId: 'a-host', playbook: 'restart', state: 'succeeded', createdAtMillis: from + day, durationMillis: 800, message: '' },
        { id: 'r3', agentId: 'b-host', playbook: 'clean-tmp', state: 'pending_approval', createdAtMillis: from + 3 * day, durationMillis: null, message: '' },
        { id: 'r0', agentId: 'b-host', playbook: 'clean-tmp', state: 'succeeded', createdAtMillis: from - day, durationMillis: 500, message: '' },
      ],
    },
    alerts: { available: false, reason: 'no alerts API given (--alerts-url URL)' },
    scaling: { available: false, reason: 'no scheduler API given (--scheduler URL)' },
    tasks: { available: false, reason: 'no scheduler API given (--scheduler URL)' },
    ...overrides,
  };
}

describe('report model', () => {
  it('computes availability, incidents and remediations for this period against the previous one', () => {
    const model = buildReportModel(data());
    expect(model.agents.map((a) => a.id)).toEqual(['a-host', 'b-host']);
    expect(model.agents.map((a) => a.availabilityPercent)).toEqual([
      { current: 50, previous: 100 },
      { current: 100, previous: 100 },
    ]);
    expect(model.summary.availabilityPercent).toEqual({ current: 75, previous: 100 });
    expect(model.summary.incidents).toEqual({ current: 2, previous: 1 });
    expect(model.summary.mostAnomalous).toEqual([{ seriesId: 'cpu{agent="a-host"}', agentId: 'a-host', metric: 'cpu', incidents: 2, maxScore: 0.9 }]);
    expect(model.summary.remediationsByPlaybook).toEqual([
      { playbook: 'clean-tmp', run: 0, succeeded: 0, failed: 0 },
      { playbook: 'restart', run: 2, succeeded: 1, failed: 1 },
    ]);
    expect(model.remediations.available && model.remediations.rows.map((r) => r.id)).toEqual(['r1', 'r2', 'r3']);
    expect(model.summary.fleetMeans.cpu).toEqual({ current: 60, previous: 20 });
    expect(model.agents[0]?.charts[0]?.incidentMillis).toEqual([from + day, from + 2 * day]);
  });

  it('counts availability from an agent\u2019s first appearance, not from before it existed', () => {
    const model = buildReportModel(
      data({
        agents: [
          // Joined two days before the period's end and reported every minute since: 100 %, and no previous period.
          { id: 'new-host', state: 'up', firstSeenMillis: to - 2 * day, lastSeenMillis: to, presentBuckets: 2 * 1440, presentBucketsPrevious: 0 },
          // Joined two days before the end and reported for one of them: 50 %.
          { id: 'half-host', state: 'down', firstSeenMillis: to - 2 * day, lastSeenMillis: to - day, presentBuckets: 1440, presentBucketsPrevious: 0 },
          // Data older than its registry entry (backfilled): the whole period counts.
          { id: 'old-host', state: 'up', firstSeenMillis: to + day, lastSeenMillis: to, presentBuckets: 5040, presentBucketsPrevious: 0 },
        ],
      }),
    );
    expect(Object.fromEntries(model.agents.map((a) => [a.id, a.availabilityPercent]))).toEqual({
      'half-host': { current: 50, previous: null },
      'new-host': { current: 100, previous: null },
      'old-host': { current: 50, previous: null },
    });
    // The fleet figure weighs each agent by the minutes it could have reported: (2,880 + 1,440 + 5,040) / (2,880 + 2,880 + 10,080).
    expect(model.summary.availabilityPercent).toEqual({ current: 59.09, previous: null });
    expect(renderMarkdown(model)).toMatch(/\| new-host \| up \| 100\.00 \|/);
    expect(renderMarkdown(model)).toContain('- Fleet: 3 agents\n');
    expect(renderMarkdown({ ...model, summary: { ...model.summary, agentCount: 1 } })).toContain('- Fleet: 1 agent\n');
  });

  it('calls the report weekly or daily only when the period is that long', () => {
    expect(buildReportModel(data()).title).toBe('Sloth weekly report');
    expect(buildReportModel(data({ fromMillis: to - day, previousFromMillis: to - 2 * day })).title).toBe('Sloth daily report');
    expect(buildReportModel(data({ fromMillis: to - 3_600_000, previousFromMillis: to - 7_200_000 })).title).toBe('Sloth fleet report');
  });

  it('warns when a disk fills within two weeks, with the days from the trend', () => {
    const model = buildReportModel(data());
    // 50 % + 2 points a day for 7 days = 64 % at the end: 18 days to 100 %.
    const row = model.capacity[0];
    expect(row).toMatchObject({ agentId: 'b-host', instance: '/', warning: false });
    expect(row?.daysUntilFull).toBeCloseTo(18, 0);
    expect(row?.forecast7dPercent).toBeCloseTo(78, 0);
    const tight = buildReportModel(data(), { diskWarningDays: 20 });
    expect(tight.capacity[0]?.warning).toBe(true);
  });

  it('grades last period\u2019s forecast: a straight trend it continues is covered with a tiny MASE', () => {
    const model = buildReportModel(data());
    const disk = model.scorecard.find((r) => r.metric === 'disk');
    expect(disk?.points).toBe(168);
    expect(disk?.mase).not.toBeNull();
    expect(disk?.mase ?? 1).toBeLessThan(0.05);
  });

  it('says "not available" for missing sources and marks an empty period', () => {
    const model = buildReportModel(
      data({ incidents: { available: false, reason: 'no analytics incident source given (--redis-url)' }, remediations: { available: false, reason: 'no scheduler API given (--scheduler URL)' }, series: [] }),
    );
    expect(model.empty).toBe(true);
    expect(model.summary.incidents).toBeNull();
    expect(renderMarkdown(model)).toContain('No data: no agent sent');
    const full = renderMarkdown(buildReportModel(data({ incidents: { available: false, reason: 'no analytics incident source given (--redis-url)' } })));
    expect(full).toContain('not available: no analytics incident source given (--redis-url)');
  });

  it('renders the same cells to Markdown and CSV', () => {
    const model = buildReportModel(data());
    expect(renderMarkdown(model)).toContain('| restart | 2 | 1 | 1 |');
    const csv = renderCsv(model);
    expect(csv).toContain('remediations-by-playbook,2,Playbook,restart');
    expect(csv).toContain('remediation-log,2,Message,exit 1');
  });

  it('is a pure function of its input', () => {
    expect(JSON.stringify(buildReportModel(data(), { timezone: 'Asia/Tokyo' }))).toBe(JSON.stringify(buildReportModel(data(), { timezone: 'Asia/Tokyo' })));
  });
});

const minute = 60_000;

function note(atMillis: number, groupLabels: Record<string, string>, firing: string[], resolved: string[] = [], receiver = 'slack', groupKey = JSON.stringify(groupLabels)): AlertNotificationRecord {
  return { atMillis, receiver, groupKey, groupLabels, firing, resolved, outcome: 'sent' };
}

describe('alert history', () => {
  const cpu = { alertname: 'HighCpu', agent: 'a-host' };
  const disk = { alertname: 'DiskFull', agent: 'b-host' };
  const notifications: AlertNotificationRecord[] = [
    note(from - day, disk, ['DiskFull']),
    note(from - day + 120 * minute, disk, [], ['DiskFull']),
    note(from + hour, cpu, ['HighCpu']),
    // The same alert routed to a second receiver is counted once.
    note(from + hour, cpu, ['HighCpu'], [], 'webhook', 'w1'),
    note(from + hour + 30 * minute, cpu, [], ['HighCpu']),
    note(from + hour + 30 * minute, cpu, [], ['HighCpu'], 'webhook', 'w1'),
    note(from + 2 * hour, cpu, ['HighCpu']),
    note(from + 3 * hour, cpu, [], ['HighCpu']),
    note(from + day, disk, ['DiskFull']),
    // A repeat notification of a group that still fires is not a new alert.
    note(from + day + 4 * hour, disk, ['DiskFull']),
  ];

  it('counts fired and resolved alerts, time to resolve and flaps against the previous period', () => {
    const model = buildReportModel(data({ alerts: { available: true, notifications, truncated: false, active: [{ rule: 'DiskFull', labels: disk, state: 'firing', flapping: false, startsAtMillis: from + day, endsAtMillis: null }] } }));
    expect(model.summary.alerts?.current).toEqual({ fired: 3, resolved: 2, medianMinutesToResolve: 45, p90MinutesToResolve: 57, flaps: 1 });
    expect(model.summary.alerts?.previous).toEqual({ fired: 1, resolved: 1, medianMinutesToResolve: 120, p90MinutesToResolve: 120, flaps: 0 });
    if (!model.alerts.available) throw new Error('alerts should be available');
    expect(model.alerts.topRules[0]).toEqual({ rule: 'HighCpu', fired: 2, resolved: 2, flaps: 1, groups: 1, medianMinutesToResolve: 45 });
    expect(model.alerts.flapping).toEqual([{ rule: 'HighCpu', group: 'agent=a-host', flaps: 1, fired: 2 }]);
    expect(model.alerts.rows.map((r) => [r.rule, r.firedAtMillis, r.resolvedAtMillis, r.receiver])).toEqual([
      ['HighCpu', from + hour, from + hour + 30 * minute, 'slack'],
      ['HighCpu', from + 2 * hour, from + 3 * hour, 'slack'],
      ['DiskFull', from + day, null, 'slack'],
    ]);
    expect(model.alerts.atRead).toEqual({ firing: 1, pending: 0, flapping: 0 });
    const md = renderMarkdown(model);
    expect(md).toContain('| Alerts fired | 3 | 1 | +2 |');
    expect(md).toContain('| Alert time to resolve (median) | 45 min | 2.0 h | -75 min |');
    expect(md).toContain('| HighCpu | 2 | 2 | 1 | 1 | 45 min |');
  });

  it('pairs firings and resolutions of several alerts of one name in one group', () => {
    const byName = { alertname: 'NoData' };
    const model = buildReportModel(
      data({
        alerts: {
          available: true,
          truncated: false,
          active: [],
          notifications: [note(from + 5 * hour, byName, ['NoData', 'NoData']), note(from + 6 * hour, byName, ['NoData'], ['NoData']), note(from + 7 * hour, byName, [], ['NoData'])],
        },
      }),
    );
    expect(model.summary.alerts?.current).toMatchObject({ fired: 2, resolved: 2, medianMinutesToResolve: 90, flaps: 0 });
  });

  it('does not compare with a previous period the kept log does not reach, and names where it starts', () => {
    const model = buildReportModel(data({ alerts: { available: true, truncated: true, active: [], notifications: notifications.slice(6) } }));
    expect(model.summary.alerts?.previous).toBeNull();
    // The first kept notification of each group may repeat an alert that fired earlier: its firing time is unknown.
    expect(model.summary.alerts?.current).toMatchObject({ fired: 0, resolved: 1, medianMinutesToResolve: null });
    expect(model.alerts.available && model.alerts.rows.map((r) => [r.rule, r.firedAtMillis, r.resolvedAtMillis])).toEqual([
      ['HighCpu', null, from + 3 * hour],
      ['DiskFull', null, null],
    ]);
    expect(model.alerts.available && model.alerts.historyFromMillis).toBe(from + 2 * hour);
    expect(renderMarkdown(model)).toContain('this history starts at 2026-01-08 02:00');
  });

  it('says why when the alerts API was not read', () => {
    const model = buildReportModel(data());
    expect(model.summary.alerts).toBeNull();
    expect(renderMarkdown(model)).toContain('_not available: no alerts API given (--alerts-url URL)_');
  });
});

describe('scaling decisions', () => {
  const decision = (timestampMillis: number, action: string, previousReplicas: number, replicas: number, extra: Partial<ScalingDecisionRecord> = {}): ScalingDecisionRecord => ({
    timestampMillis,
    action,
    previousReplicas,
    replicas,
    demand: 120,
    forecastValue: 150,
    policyMode: 'predictive',
    targetMode: 'act',
    acted: false,
    actuation: null,
    reasons: [`${action} for the forecast`],
    ...extra,
  });

  it('lists the changes of the period per target with their outcome, and counts the holds', () => {
    const model = buildReportModel(
      data({
        scaling: {
          available: true,
          items: [
            {
              name: 'api',
              mode: 'act',
              demandSeries: 'http{agent="a"}',
              minReplicas: 1,
              maxReplicas: 10,
              truncated: false,
              decisions: [
                decision(from - hour, 'scale-out', 1, 2, { acted: true, actuation: { kind: 'ok', detail: 'webhook 200' } }),
                decision(from + hour, 'scale-out', 2, 4, { acted: true, actuation: { kind: 'ok', detail: 'webhook 200' } }),
                decision(from + 2 * hour, 'hold', 4, 4),
                decision(from + 3 * hour, 'scale-in', 4, 3, { actuation: { kind: 'failure', detail: 'webhook answered 500' }, reasons: ['scale-in', 'actuation failed: webhook answered 500; still at 4'] }),
              ],
            },
            { name: 'web', mode: 'forecast-only', demandSeries: 'http{agent="w"}', minReplicas: 2, maxReplicas: 6, truncated: false, decisions: [decision(from + hour, 'scale-out', 2, 3, { targetMode: 'forecast-only' })] },
          ],
        },
      }),
    );
    if (!model.scaling.available) throw new Error('scaling should be available');
    expect(model.scaling.rows.map((r) => [r.target, r.action, r.replicas, r.outcome])).toEqual([
      ['api', 'scale-out', 4, 'acted'],
      ['web', 'scale-out', 3, 'forecast-only'],
      ['api', 'scale-in', 3, 'failed'],
    ]);
    expect(model.scaling.targets[0]).toMatchObject({ target: 'api', decisions: 3, scaleOut: 1, scaleIn: 1, held: 1, acted: 1, forecastOnly: 0, failed: 1, replicasMin: 3, replicasMax: 4 });
    const md = renderMarkdown(model);
    expect(md).toContain('| api | scale-in 4 -> 3 | 120.0 | failed | scale-in; actuation failed: webhook answered 500; still at 4 |');
    expect(md).toContain('| web | forecast-only | 1 | 1 | 0 | 0 | 0 | 1 | 0 | 3 |');
  });
});

describe('disk-full predictions', () => {
  const rising = (start: number, perDay: number) => (t: number): number => Math.min(1, start + (perDay * (t - (from - 7 * day))) / day);
  const series = (instance: string, previous: (t: number) => number, current: (t: number) => number): CollectedSeries => ({
    key: `disk{agent="c-host",mountpoint="${instance}"}`,
    agentId: 'c-host',
    metric: 'disk',
    instance,
    previous: buckets(from - 7 * day, from, previous),
    current: buckets(from, to, current),
  });

  it('grades last period\u2019s warnings: hit, miss, pending, and a fill nobody warned of', () => {
    const model = buildReportModel(
      data({
        agents: [{ id: 'c-host', state: 'up', firstSeenMillis: 0, lastSeenMillis: to, presentBuckets: 10_080, presentBucketsPrevious: 10_080 }],
        series: [
          // 50 % + 5 points a day: 85 % at the period's start, full 3 days later, and it does fill.
          series('/data', rising(0.5, 0.05), rising(0.5, 0.05)),
          // The same warning, but the disk was cleaned at the period's start.
          series('/var', rising(0.5, 0.05), () => 0.6),
          // 15 % + 5 points a day: 50 % at the start, full in 10 days (after this period), 85 % at its end.
          series('/srv', rising(0.15, 0.05), rising(0.15, 0.05)),
          // Flat, then full two days in.
          series('/tmp', () => 0.3, (t) => (t < from + 2 * day ? 0.3 : 1)),
        ],
      }),
    );
    const by = new Map(model.diskPredictions.map((d) => [d.instance, d]));
    expect(by.get('/data')).toMatchObject({ outcome: 'hit', predictedDays: 3 });
    // The bucket max (value + 1 point) reaches 99.5 % when the value is 98.5 %: 0.3 days early.
    expect(by.get('/data')?.errorDays).toBeCloseTo(-0.3, 1);
    expect(by.get('/var')).toMatchObject({ outcome: 'miss', predictedDays: 3, actualFullMillis: null });
    expect(by.get('/srv')).toMatchObject({ outcome: 'pending', predictedDays: 10, predictedFullMillis: from + 10 * day });
    expect(by.get('/srv')?.nowDaysUntilFull).toBeCloseTo(3, 0);
    expect(by.get('/tmp')).toMatchObject({ outcome: 'unwarned', predictedDays: null, actualFullMillis: from + 2 * day });
    expect(model.summary.diskPredictions).toEqual({ hit: 1, miss: 1, pending: 1, unwarned: 1 });
    expect(renderMarkdown(model)).toContain('| Last period\u2019s disk-full warnings | 1 hit, 1 missed, 1 pending; 1 unwarned fills |');
  });
});

describe('report statistics', () => {
  it('fits a trend with a daily profile and predicts days until a limit', () => {
    const points = Array.from({ length: 7 * 24 }, (_, i) => ({ t: i * hour, v: 0.1 + 0.01 * (i / 24) + (i % 24 === 3 ? 0.05 : 0) }));
    const model = fitSeasonalTrend(points);
    // The daily spike biases the least-squares slope a little.
    expect((model?.slopePerMilli ?? 0) * day).toBeCloseTo(0.01, 3);
    expect(model?.hourProfile[3]).toBeGreaterThan(0.04);
    const days = daysUntil(model!, 1, 7 * day) ?? 0;
    expect(days).toBeGreaterThan(75);
    expect(days).toBeLessThan(92);
    expect(fitSeasonalTrend(points.slice(0, 5))).toBeUndefined();
  });

  it('grades coverage and MASE and averages hours', () => {
    expect(quantile([3, 1, 2, 4], 0.5)).toBe(2.5);
    expect(hourlyMeans([{ t: 10, v: 1 }, { t: 20, v: 3 }, { t: hour + 1, v: 5 }])).toEqual([{ t: 0, v: 2 }, { t: hour, v: 5 }]);
    const training = [0, 1, 0, 1].map((v, i) => ({ t: i, v }));
    const grade = gradeForecast(training, [{ t: 10, p10: 0, p50: 0.5, p90: 1 }, { t: 11, p10: 0, p50: 0.5, p90: 1 }], [{ t: 10, v: 1 }, { t: 11, v: 2 }]);
    // Naive (lag 1) error 1; p50 errors 0.5 and 1.5: MASE 1; one of two inside the band.
    expect(grade).toEqual({ coverage: 0.5, mase: 1, points: 2 });
  });
});
