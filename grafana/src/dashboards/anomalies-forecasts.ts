import { metricCatalogue as m } from '@sloth/core';
import { defaultAlertMinScore, defaultIncidentScore } from '@sloth/core/live-calibration';
import { DashboardPlan, dashboardUids, jobs, rate, sel, type SlothDashboard } from '../common.js';

const s = 'agent=~"$agent", metric=~"$metric"';
const noForecast = 'forecasts appear once a series has enough history to train on';

function band(percentile: 'p10' | 'p50' | 'p90'): string {
  return sel(m.forecast, `${s}, horizon_steps="1", percentile="${percentile}"`);
}

/** Anomalies & forecasts: scores, the forecast band, and the incidents and remediations as annotations. */
export function anomaliesForecasts(): SlothDashboard {
  return new DashboardPlan(dashboardUids.anomalies, 'Sloth / Anomalies & forecasts', 'What analytics sees: anomaly scores, forecasts against what happened, and when incidents and remediations happened.')
    .variable('agent', 'agent', m.anomalyScore, { multi: true })
    .variable('metric', 'metric', m.anomalyScore, { multi: true, matchers: 'agent=~"$agent"' })
    .annotation('Incidents', `changes(${sel(m.analyticsLastAnomaly)}[2m]) > 0`, 'red', 'no anomaly was published in the range')
    .annotation('Remediations', `changes(${sel(m.remediationLastRun)}[2m]) > 0`, 'blue')
    .row('Anomalies')
    .timeseries('Anomaly score', [{ expr: sel(m.anomalyScore, s), legend: '{{series}}' }], {
      description: `Latest anomaly score of each series, in [0, 1]. From ${defaultIncidentScore} (orange) the analytics service opens an incident at its default anomalyThreshold; from ${defaultAlertMinScore} (red) an anomaly alert rule pages at its default min_score.`,
      unit: 'percentunit',
      min: 0,
      max: 1,
      thresholds: [
        [defaultIncidentScore, 'orange'],
        [defaultAlertMinScore, 'red'],
      ],
      width: 24,
    })
    .timeseries('Anomalies published', [{ expr: rate(m.analyticsAnomaliesPublished), legend: 'anomalies/s' }], { description: 'Incident transitions (open, update, resolved) published per second.', unit: 'short', min: 0 })
    .timeseries('Samples scored', [{ expr: `sum(${rate(m.analyticsSamplesScored)})`, legend: 'samples/s' }], { description: 'Samples scored per second by all analytics processes.', unit: 'short', min: 0 })
    .row('Forecasts')
    .timeseries(
      'Value against the forecast band',
      [
        { expr: sel(m.scoredValue, s), legend: 'value {{series}}' },
        { expr: band('p10'), legend: 'p10 {{series}}', expectEmpty: noForecast },
        { expr: band('p50'), legend: 'p50 {{series}}', expectEmpty: noForecast },
        { expr: band('p90'), legend: 'p90 {{series}}', expectEmpty: noForecast },
      ],
      {
        description: 'The value analytics scored (for counters, the rate per second) against the p10–p90 forecast of the value one step after the latest sample, drawn where it was forecast.',
        unit: 'short',
        width: 24,
      },
    )
    .timeseries(
      'Forecast p50 by horizon',
      [{ expr: sel(m.forecast, `${s}, percentile="p50"`), legend: '{{series}} +{{horizon_steps}}' }],
      { description: 'Median forecast at each exposed horizon (steps after the last sample).', unit: 'short', expectEmpty: noForecast },
    )
    .timeseries(
      'Forecasts and failures',
      [
        { expr: rate(m.analyticsForecastsPublished), legend: 'published/s' },
        { expr: rate(m.analyticsForecastFailures), legend: 'failed/s' },
      ],
      { description: 'Forecasts published and failed per second.', unit: 'short', min: 0, thresholds: [[0.01, 'red']] },
    )
    .row('Models')
    .timeseries(
      'Training',
      [
        { expr: rate(m.analyticsModelsTrained), legend: 'trained/s' },
        { expr: rate(m.analyticsTrainingFailures), legend: 'failed/s' },
        { expr: sel(m.analyticsTrainingBacklog), legend: 'backlog' },
      ],
      { description: 'Detector trainings (only with detectorModel: true; the detector is statistics only by default) and the queue of training and forecast tasks (forecasts train their own model).', unit: 'short', min: 0 },
    )
    .timeseries(
      'Series in memory',
      [
        { expr: sel(m.analyticsTrackedSeries), legend: 'tracked' },
        { expr: rate(m.analyticsSeriesEvicted), legend: 'evicted/s' },
      ],
      { description: 'Series held in memory and evictions.', unit: 'short', min: 0 },
    )
    .timeseries(
      'Analytics memory',
      [{ expr: sel(m.processResidentMemory, `job="${jobs.analytics}"`), legend: '{{instance}}' }],
      { description: 'Resident memory of each analytics process.', unit: 'bytes', min: 0 },
    )
    .build();
}
