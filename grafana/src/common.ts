import { BigValueColorMode, BigValueGraphMode, LegendDisplayMode, LegendPlacement, ReduceDataOptionsBuilder, StackingConfigBuilder, StackingMode, VizLegendOptionsBuilder } from '@grafana/grafana-foundation-sdk/common';
import {
  AnnotationQueryBuilder,
  DashboardBuilder,
  DashboardLinkBuilder,
  DashboardLinkType,
  QueryVariableBuilder,
  RowBuilder,
  ThresholdsConfigBuilder,
  ThresholdsMode,
  VariableRefresh,
  VariableSort,
  type Dashboard,
  type DataSourceRef,
  type Threshold,
} from '@grafana/grafana-foundation-sdk/dashboard';
import { DataqueryBuilder, PromQueryFormat } from '@grafana/grafana-foundation-sdk/prometheus';
import { PanelBuilder as StatPanelBuilder } from '@grafana/grafana-foundation-sdk/stat';
import { PanelBuilder as TablePanelBuilder } from '@grafana/grafana-foundation-sdk/table';
import { PanelBuilder as TimeseriesPanelBuilder } from '@grafana/grafana-foundation-sdk/timeseries';
import type { MetricSpec } from '@sloth/core';

/** The provisioned Prometheus data source, referenced by its fixed uid (deploy/grafana/provisioning). */
export const datasource: DataSourceRef = { type: 'prometheus', uid: 'sloth-prometheus' };

/** Uids of Sloth's dashboards: stable, so links and bookmarks survive rebuilds. */
export const dashboardUids = {
  fleet: 'sloth-fleet',
  agent: 'sloth-agent',
  anomalies: 'sloth-anomalies',
  scheduler: 'sloth-scheduler',
  collector: 'sloth-collector',
} as const;

/** Scrape job names the dashboards filter on; deploy/prometheus/prometheus.yml uses the same. */
export const jobs = { collector: 'sloth-collector', agent: 'sloth-agent', analytics: 'sloth-analytics', scheduler: 'sloth-scheduler', alerts: 'sloth-alerts' } as const;

/** One PromQL expression of a panel (or annotation, or variable), as the Prometheus test runs it. */
export interface PanelQuery {
  readonly panel: string;
  readonly refId: string;
  readonly expr: string;
  readonly instant: boolean;
  /** Why this query may legitimately return nothing (no failures yet, a metric not exported yet); undefined: it must return data. */
  readonly expectEmpty: string | undefined;
  readonly kind: 'panel' | 'annotation' | 'variable';
}

export interface SlothDashboard {
  readonly uid: string;
  readonly json: Dashboard;
  readonly queries: readonly PanelQuery[];
}

export interface Query {
  readonly expr: string;
  readonly legend?: string;
  /** Instant query (tables, stats of "now"). @defaultValue false */
  readonly instant?: boolean;
  /** Why this query alone may be empty; the panel's {@link PanelOptions.expectEmpty} otherwise. */
  readonly expectEmpty?: string;
}

export interface PanelOptions {
  readonly description: string;
  readonly unit: string;
  readonly min?: number;
  readonly max?: number;
  /** Threshold steps above the base colour (green). */
  readonly thresholds?: ReadonlyArray<readonly [number, string]>;
  /** Grid width (of 24). @defaultValue 12 */
  readonly width?: number;
  /** @defaultValue 8 */
  readonly height?: number;
  /** Reason the panel may legitimately be empty; see {@link PanelQuery.expectEmpty}. */
  readonly expectEmpty?: string;
  readonly stacked?: boolean;
  /** A data link on each value, e.g. to the agent detail. */
  readonly link?: { readonly title: string; readonly url: string };
}

type AnyPanel = TimeseriesPanelBuilder | StatPanelBuilder | TablePanelBuilder;

/** The Prometheus name of a catalogue metric; the only way a dashboard names a metric. */
export function n(spec: MetricSpec): string {
  return spec.name;
}

/** `metric{matchers}` from a catalogue entry. */
export function sel(spec: MetricSpec, matchers = ''): string {
  return matchers === '' ? spec.name : `${spec.name}{${matchers}}`;
}

/** `rate(metric{matchers}[$__rate_interval])`. */
export function rate(spec: MetricSpec, matchers = ''): string {
  return `rate(${sel(spec, matchers)}[$__rate_interval])`;
}

/** The q-quantile of a catalogue histogram, by `by` labels. */
export function quantile(q: number, spec: MetricSpec, matchers = '', by: readonly string[] = []): string {
  if (spec.type !== 'histogram') throw new Error(`${spec.name} is not a histogram`);
  const bucket = matchers === '' ? `${spec.name}_bucket` : `${spec.name}_bucket{${matchers}}`;
  return `histogram_quantile(${q}, sum by (${['le', ...by].join(', ')}) (rate(${bucket}[$__rate_interval])))`;
}

/** The planned-status reason, or undefined: a panel on a metric no role exports yet must expect emptiness. */
export function plannedReason(...specs: MetricSpec[]): string | undefined {
  const planned = specs.filter((s) => s.status === 'planned').map((s) => s.name);
  return planned.length === 0 ? undefined : `not exported yet: ${planned.join(', ')}`;
}

function thresholdsOf(steps: ReadonlyArray<readonly [number, string]>): ThresholdsConfigBuilder {
  const list: Threshold[] = [{ value: null, color: 'green' }, ...steps.map(([value, color]) => ({ value, color }))];
  return new ThresholdsConfigBuilder().mode(ThresholdsMode.Absolute).steps(list);
}

/**
 * One dashboard under construction: Sloth's conventions (data source,
 * links to the other dashboards, ids, thresholds, refresh) in one place, and
 * the list of every query it holds, for the Prometheus test.
 */
export class DashboardPlan {
  private readonly builder: DashboardBuilder;
  private readonly queries: PanelQuery[] = [];
  private nextId = 1;

  constructor(
    readonly uid: string,
    title: string,
    description: string,
  ) {
    this.builder = new DashboardBuilder(title)
      .uid(uid)
      .description(description)
      .tags(['sloth'])
      // Provisioned from files with allowUiUpdates: false; edits belong in grafana/src.
      .readonly()
      .time({ from: 'now-1h', to: 'now' })
      .refresh('30s')
      .timezone('browser')
      .link(new DashboardLinkBuilder('Sloth dashboards').type(DashboardLinkType.Dashboards).tags(['sloth']).asDropdown(true).includeVars(false).keepTime(true));
  }

  /** A template variable over the values of `label` on `spec`. */
  variable(name: string, label: string, spec: MetricSpec, options: { readonly multi?: boolean; readonly matchers?: string } = {}): this {
    const expr = `label_values(${sel(spec, options.matchers ?? '')}, ${label})`;
    this.builder.withVariable(
      new QueryVariableBuilder(name)
        .label(name)
        .datasource(datasource)
        .query(expr)
        .refresh(VariableRefresh.OnTimeRangeChanged)
        .sort(VariableSort.AlphabeticalAsc)
        .multi(options.multi ?? false)
        .includeAll(options.multi ?? false),
    );
    this.queries.push({ panel: `$${name}`, refId: 'A', expr, instant: true, expectEmpty: plannedReason(spec), kind: 'variable' });
    return this;
  }

  annotation(name: string, expr: string, color: string, expectEmpty?: string): this {
    this.builder.annotation(new AnnotationQueryBuilder().name(name).datasource(datasource).enable(true).iconColor(color).expr(expr));
    this.queries.push({ panel: `annotation ${name}`, refId: 'A', expr, instant: false, expectEmpty, kind: 'annotation' });
    return this;
  }

  row(title: string): this {
    this.builder.withRow(new RowBuilder(title).id(this.nextId++));
    return this;
  }

  timeseries(title: string, queries: readonly Query[], options: PanelOptions): this {
    const panel = new TimeseriesPanelBuilder().legend(new VizLegendOptionsBuilder().displayMode(LegendDisplayMode.List).showLegend(true).placement(LegendPlacement.Bottom)).fillOpacity(10);
    if (options.stacked === true) panel.stacking(new StackingConfigBuilder().mode(StackingMode.Normal)).fillOpacity(40);
    return this.add(panel, title, queries, options);
  }

  stat(title: string, query: Query, options: PanelOptions): this {
    const panel = new StatPanelBuilder()
      .graphMode(BigValueGraphMode.Area)
      .colorMode(BigValueColorMode.Value)
      .reduceOptions(new ReduceDataOptionsBuilder().calcs(['lastNotNull']).values(false));
    return this.add(panel, title, [query], { width: 6, height: 4, ...options });
  }

  /** A table of instant queries joined on their labels (one row per label set). */
  table(title: string, queries: readonly Query[], options: PanelOptions): this {
    const panel = new TablePanelBuilder().withTransformation({ id: 'merge', options: {} });
    return this.add(
      panel,
      title,
      queries.map((q) => ({ ...q, instant: true })),
      options,
    );
  }

  build(): SlothDashboard {
    return { uid: this.uid, json: this.builder.build(), queries: [...this.queries] };
  }

  private add(panel: AnyPanel, title: string, queries: readonly Query[], options: PanelOptions): this {
    panel
      .id(this.nextId++)
      .title(title)
      .description(options.description)
      .datasource(datasource)
      .span(options.width ?? 12)
      .height(options.height ?? 8);
    if (options.unit !== undefined) panel.unit(options.unit);
    if (options.min !== undefined) panel.min(options.min);
    if (options.max !== undefined) panel.max(options.max);
    if (options.thresholds !== undefined) panel.thresholds(thresholdsOf(options.thresholds));
    if (options.link !== undefined) panel.dataLinks([new DashboardLinkBuilder(options.link.title).url(options.link.url)]);
    queries.forEach((q, i) => {
      const refId = String.fromCharCode(65 + i);
      const target = new DataqueryBuilder().datasource(datasource).expr(q.expr).refId(refId).legendFormat(q.legend ?? '__auto');
      if (q.instant === true) target.instant().format(PromQueryFormat.Table);
      else target.range();
      panel.withTarget(target);
      this.queries.push({ panel: title, refId, expr: q.expr, instant: q.instant === true, expectEmpty: q.expectEmpty ?? options.expectEmpty, kind: 'panel' });
    });
    if (panel instanceof TimeseriesPanelBuilder) this.builder.withPanel(panel);
    else if (panel instanceof StatPanelBuilder) this.builder.withPanel(panel);
    else this.builder.withPanel(panel);
    return this;
  }
}

/** A link to the agent detail of the agent in a table row or series. */
export const agentDetailLink = { title: 'Agent detail', url: `/d/${dashboardUids.agent}/?var-agent=\${__field.labels.agent}&\${__url_time_range}` } as const;
