import { describe, expect, it } from 'vitest';
import { buildReportModel, renderCsv, renderMarkdown, type CollectedData, type CollectedSeries } from '../src/index.js';
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
    alerts: { available: false, reason: 'no alerts source exists yet' },
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
