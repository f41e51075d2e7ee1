import type { TopLevelSpec } from 'vega-lite';
import { keyMetricTitles } from '../data.js';
import { wallClockMillis } from '../format.js';
import type { ChartData } from '../model.js';

export interface ChartSize {
  readonly widthPx: number;
  readonly heightPx: number;
}

const font = 'DejaVu Sans';

/** A chart: a Vega-Lite spec shared by every chart of its kind, and the data of this one. */
export interface ChartJob {
  readonly spec: TopLevelSpec;
  readonly data: Readonly<Record<'history' | 'sparse' | 'forecast' | 'incidents', ReadonlyArray<Record<string, number>>>>;
}

/**
 * A chart as a Vega-Lite spec with named data sets: the min–max band per
 * pixel column, the mean line, the forecast band and median after the
 * period, incident marks. Values in percent; times shifted to the report's
 * zone and drawn on UTC scales. The spec does not hold the data, so workers
 * compile each kind of chart once and only feed data afterwards.
 */
export function chartJob(chart: ChartData, timezone: string, size: ChartSize): ChartJob {
  const at = zoneShifter(timezone);
  const history = chart.points.map((p) => ({ t: at(p.t), min: p.min * 100, max: p.max * 100, avg: p.avg * 100 }));
  // Every key metric is a utilization: a straight trend must not draw below 0 % or above 100 %.
  const percent = (v: number): number => Math.min(100, Math.max(0, v * 100));
  const forecast = chart.forecast.map((f) => ({ t: at(f.t), p10: percent(f.p10), p50: percent(f.p50), p90: percent(f.p90) }));
  const incidents = chart.incidentMillis.map((t) => ({ t: at(t) }));
  // A line through one or two points draws nothing one can see (an agent minutes old in a weekly report):
  // those points are drawn as dots.
  const sparse = history.length < 3 ? history : [];
  return { spec: chartSpec(chart.metric, size), data: { history, sparse, forecast, incidents } };
}

/** Shifts times to the zone's wall clock; the offset is looked up once per hour, not per point. */
function zoneShifter(timezone: string): (t: number) => number {
  const offsets = new Map<number, number>();
  return (t: number): number => {
    const hour = Math.floor(t / 3_600_000);
    let offset = offsets.get(hour);
    if (offset === undefined) {
      offset = wallClockMillis(hour * 3_600_000, timezone) - hour * 3_600_000;
      offsets.set(hour, offset);
    }
    return t + offset;
  };
}

function chartSpec(metric: ChartData['metric'], size: ChartSize): TopLevelSpec {
  const x = { field: 't', type: 'temporal' as const, scale: { type: 'utc' as const }, axis: { title: null, format: '%d %b %H:%M', labelFontSize: 8, tickCount: 6 } };
  const y = { type: 'quantitative' as const, axis: { title: `${keyMetricTitles[metric]} %`, titleFontSize: 9, labelFontSize: 8 } };
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    width: size.widthPx,
    height: size.heightPx,
    background: 'white',
    config: { font, view: { stroke: '#ddd' }, axis: { labelFont: font, titleFont: font } },
    layer: [
      { data: { name: 'history' }, mark: { type: 'area', color: '#4c78a8', opacity: 0.3 }, encoding: { x, y: { ...y, field: 'min' }, y2: { field: 'max' } } },
      { data: { name: 'history' }, mark: { type: 'line', color: '#1f4e79', strokeWidth: 1 }, encoding: { x, y: { ...y, field: 'avg' } } },
      { data: { name: 'sparse' }, mark: { type: 'point', filled: true, color: '#1f4e79', size: 30 }, encoding: { x, y: { ...y, field: 'avg' } } },
      { data: { name: 'forecast' }, mark: { type: 'area', color: '#f58518', opacity: 0.25 }, encoding: { x, y: { ...y, field: 'p10' }, y2: { field: 'p90' } } },
      { data: { name: 'forecast' }, mark: { type: 'line', color: '#c45a00', strokeDash: [4, 2], strokeWidth: 1 }, encoding: { x, y: { ...y, field: 'p50' } } },
      { data: { name: 'incidents' }, mark: { type: 'rule', color: '#d62728', strokeWidth: 1.5 }, encoding: { x } },
    ],
  };
}
