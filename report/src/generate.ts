import { keyMetricNames, keyMetrics, type IncidentRecord, type Source } from './data.js';
import { collectReportData, type CollectOptions } from './collect.js';
import { checkTimezone } from './format.js';
import { readIncidents } from './incidents.js';
import { buildReportModel, type ReportModel } from './model.js';
import { renderPdf, type PaperSize } from './pdf/render-pdf.js';
import { renderCsv, renderMarkdown } from './render-text.js';
import type { QueryClient } from '@sloth/core';

export const reportFormats = ['pdf', 'json', 'md', 'csv'] as const;
export type ReportFormat = (typeof reportFormats)[number];

export interface GenerateOptions {
  readonly client: QueryClient;
  readonly format: ReportFormat;
  readonly periodMillis: number;
  /** End of the period; by default the newest key-metric point the collector holds (so the same data gives the same report). */
  readonly untilMillis?: number;
  /** @defaultValue UTC */
  readonly timezone?: string;
  /** @defaultValue A4 */
  readonly paper?: PaperSize;
  /** Scheduler API: remediation log and scaling decisions. */
  readonly scheduler?: CollectOptions['scheduler'];
  /** Alerts API: alert history and noise. */
  readonly alerts?: CollectOptions['alerts'];
  /** Where analytics publishes incidents (`<prefix>:anomalies`). */
  readonly redis?: { readonly url: string; readonly prefix?: string };
  /** Phases: `collect` (queries) then `render` (charts and pages). */
  readonly onProgress?: (phase: 'collect' | 'render', done: number, total: number) => void;
  /** The clock, only used when the collector holds no data at all. @defaultValue Date.now */
  readonly nowMillis?: () => number;
}

export interface GeneratedReport {
  readonly model: ReportModel;
  readonly output: Buffer;
}

/**
 * The data's end: the newest key-metric point, rounded up to a whole minute.
 * Undefined when the collector holds no key metric.
 */
export async function dataEndMillis(client: QueryClient): Promise<number | undefined> {
  let newest: number | undefined;
  for (const metric of keyMetrics) {
    const latest = await client.latest({ name: keyMetricNames[metric] });
    if (!latest.ok) continue;
    for (const p of latest.value) newest = Math.max(newest ?? -Infinity, p.t);
  }
  return newest === undefined ? undefined : Math.ceil(newest / 60_000) * 60_000;
}

/** Collect → model → render: the whole `sloth report`. */
export async function generateReport(options: GenerateOptions): Promise<GeneratedReport> {
  const timezone = options.timezone ?? 'UTC';
  checkTimezone(timezone);
  const toMillis = options.untilMillis ?? (await dataEndMillis(options.client)) ?? Math.ceil((options.nowMillis ?? Date.now)() / 60_000) * 60_000;
  const fromMillis = toMillis - options.periodMillis;
  let incidents: Source<IncidentRecord> | undefined;
  if (options.redis !== undefined) {
    incidents = await readIncidents({ redisUrl: options.redis.url, fromMillis: fromMillis - options.periodMillis, toMillis, ...(options.redis.prefix === undefined ? {} : { redisPrefix: options.redis.prefix }) });
  }
  const data = await collectReportData({
    client: options.client,
    toMillis,
    periodMillis: options.periodMillis,
    ...(options.scheduler === undefined ? {} : { scheduler: options.scheduler }),
    ...(options.alerts === undefined ? {} : { alerts: options.alerts }),
    ...(incidents === undefined ? {} : { incidents }),
    onProgress: (done, total) => options.onProgress?.('collect', done, total),
  });
  const model = buildReportModel(data, { timezone });
  let output: Buffer;
  switch (options.format) {
    case 'json':
      output = Buffer.from(`${JSON.stringify(model, null, 2)}\n`);
      break;
    case 'md':
      output = Buffer.from(renderMarkdown(model));
      break;
    case 'csv':
      output = Buffer.from(renderCsv(model));
      break;
    case 'pdf':
      output = await renderPdf(model, { ...(options.paper === undefined ? {} : { paper: options.paper }), onProgress: (done, total) => options.onProgress?.('render', done, total) });
      break;
  }
  return { model, output };
}
