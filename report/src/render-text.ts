import { formatDateTime } from './format.js';
import type { ReportModel } from './model.js';
import { allTables, type TextTable } from './tables.js';

function mdCell(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/\n/g, ' ');
}

function mdTable(table: TextTable): string {
  if (table.unavailable !== undefined) return `## ${table.title}\n\n_${table.unavailable}_\n`;
  const note = table.note === undefined ? '' : `${table.note}\n\n`;
  if (table.rows.length === 0) return `## ${table.title}\n\n${note}_${table.empty ?? 'none in this period'}_\n`;
  const align = table.columns.map((_, i) => (table.numeric.includes(i) ? '---:' : '---'));
  const lines = [`| ${table.columns.map(mdCell).join(' | ')} |`, `| ${align.join(' | ')} |`, ...table.rows.map((r) => `| ${r.map(mdCell).join(' | ')} |`)];
  return `## ${table.title}\n\n${note}${lines.join('\n')}\n`;
}

function heading(model: ReportModel): string {
  const tz = model.timezone;
  return [
    `# ${model.title}`,
    '',
    `- Fleet: ${model.summary.agentCount} agent${model.summary.agentCount === 1 ? '' : 's'}`,
    `- Period: ${formatDateTime(model.period.fromMillis, tz)} to ${formatDateTime(model.period.toMillis, tz)} (${tz}), compared with ${formatDateTime(model.period.previousFromMillis, tz)} to ${formatDateTime(model.period.fromMillis, tz)}`,
    `- Collector: ${model.collector}`,
    `- Generated at: ${formatDateTime(model.generatedAtMillis, tz)} (${tz}), the end of the data`,
    '',
  ].join('\n');
}

/** The "no data" text every format shares. */
export function noDataText(model: ReportModel): string {
  const tz = model.timezone;
  return `No data: no agent sent CPU, memory or filesystem metrics to the collector at ${model.collector} between ${formatDateTime(model.period.fromMillis, tz)} and ${formatDateTime(model.period.toMillis, tz)} (${tz}). Check that agents run with --collector pointing at it, widen --since, or point --collector at the right collector.`;
}

/** The report as Markdown. */
export function renderMarkdown(model: ReportModel): string {
  if (model.empty) return `${heading(model)}\n${noDataText(model)}\n`;
  return `${heading(model)}\n${allTables(model).map(mdTable).join('\n')}`;
}

function csvCell(text: string): string {
  return /[",\n\r]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/** The report as one long CSV: `table,row,column,value`, every table of the report in order. */
export function renderCsv(model: ReportModel): string {
  const lines = ['table,row,column,value'];
  const add = (table: string, row: number, column: string, value: string): void => {
    lines.push([table, String(row), column, value].map(csvCell).join(','));
  };
  add('report', 0, 'from', new Date(model.period.fromMillis).toISOString());
  add('report', 0, 'to', new Date(model.period.toMillis).toISOString());
  add('report', 0, 'timezone', model.timezone);
  add('report', 0, 'collector', model.collector);
  add('report', 0, 'empty', String(model.empty));
  for (const table of allTables(model)) {
    if (table.unavailable !== undefined) {
      add(table.id, 0, 'unavailable', table.unavailable);
      continue;
    }
    if (table.note !== undefined) add(table.id, 0, 'note', table.note);
    if (table.rows.length === 0 && table.empty !== undefined) add(table.id, 0, 'empty', table.empty);
    table.rows.forEach((row, r) => row.forEach((cell, c) => add(table.id, r + 1, table.columns[c] ?? String(c), cell)));
  }
  return `${lines.join('\n')}\n`;
}
