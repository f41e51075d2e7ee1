import PDFDocument from 'pdfkit';
import SVGtoPDF from 'svg-to-pdfkit';
import { formatDateTime } from '../format.js';
import type { ChartData, ReportModel } from '../model.js';
import { noDataText } from '../render-text.js';
import {
  agentTable,
  alertNoiseTable,
  alertTable,
  anomalousTable,
  capacityTable,
  diskPredictionTable,
  flappingTable,
  incidentTable,
  remediationLogTable,
  remediationTallyTable,
  scalingDecisionTable,
  scalingTargetTable,
  scorecardTable,
  summaryTable,
  taskAgentTable,
  taskFailureTable,
  taskSummaryTable,
  taskWaitingTable,
  type TextTable,
} from '../tables.js';
import { ChartPool } from './chart-pool.js';
import { chartJob, type ChartSize } from './chart-specs.js';
import { reportFonts } from './font.js';
import { drawTable, tableFontSizePt } from './pdf-table.js';

export const paperSizes = ['A4', 'Letter'] as const;
export type PaperSize = (typeof paperSizes)[number];

export interface PdfOptions {
  /** @defaultValue A4 */
  readonly paper?: PaperSize;
  /** Progress of the chart and page work, for a progress bar. */
  readonly onProgress?: (done: number, total: number) => void;
  /** A pool to reuse; otherwise one is started and shut down here. */
  readonly pool?: ChartPool;
}

const marginPt = 40;
const fleetChartSize: ChartSize = { widthPx: 520, heightPx: 150 };
const agentChartSize: ChartSize = { widthPx: 520, heightPx: 90 };
const fontNames = { regular: 'Body', bold: 'Bold' };
/** Charts rendered ahead of the page layout. */
const renderAheadCharts = 12;

/** Points a column needs beyond its text: the cell margins. */
const cellPaddingPt = 6;
const measuredCellsPerColumn = 6;

/**
 * Column shares from the measured text: every column gets its widest cell
 * (header in bold, the longest cells of the first 200 rows) when the page allows; otherwise the
 * narrow ones keep theirs and the wide ones share what is left equally.
 */
function tableShares(doc: PDFKit.PDFDocument, table: TextTable): number[] {
  const width = textWidth(doc);
  const natural = table.columns.map((title, i) => {
    doc.font(fontNames.bold).fontSize(tableFontSizePt);
    let widest = doc.widthOfString(title);
    doc.font(fontNames.regular);
    // Measuring costs a font layout per string: only the longest few cells of the first rows are candidates.
    const longest = table.rows
      .slice(0, 200)
      .map((row) => (row[i] ?? '').slice(0, 120))
      .sort((a, b) => b.length - a.length)
      .slice(0, measuredCellsPerColumn);
    for (const cell of longest) widest = Math.max(widest, doc.widthOfString(cell));
    return widest + cellPaddingPt;
  });
  const total = natural.reduce((a, b) => a + b, 0);
  if (total <= width) return natural.map((w) => w / total);
  const widths = new Array<number>(natural.length).fill(0);
  let left = width;
  const order = natural.map((w, i) => ({ w, i })).sort((a, b) => a.w - b.w);
  order.forEach(({ w, i }, k) => {
    widths[i] = Math.min(w, left / (order.length - k));
    left -= widths[i];
  });
  return widths.map((w) => w / width);
}

/**
 * Renders the model to PDF bytes. Deterministic: the document dates come
 * from the data's end time and nothing depends on the clock or randomness,
 * so the same model gives byte-identical output.
 */
export async function renderPdf(model: ReportModel, options: PdfOptions = {}): Promise<Buffer> {
  const fonts = reportFonts();
  const generatedAt = new Date(model.generatedAtMillis);
  const doc = new PDFDocument({
    size: options.paper ?? 'A4',
    margin: marginPt,
    autoFirstPage: false,
    bufferPages: true,
    info: { Title: model.title, Author: 'Sloth', Creator: 'sloth report', Producer: 'Sloth', CreationDate: generatedAt, ModDate: generatedAt },
  });
  doc.registerFont(fontNames.regular, fonts.regular);
  doc.registerFont(fontNames.bold, fonts.bold);
  const chunks: Buffer[] = [];
  doc.on('data', (chunk: Buffer) => chunks.push(chunk));
  const ended = new Promise<void>((resolve) => doc.on('end', resolve));

  const charts: Array<{ chart: ChartData; size: ChartSize }> = model.empty
    ? []
    : [...model.fleet.map((chart) => ({ chart, size: fleetChartSize })), ...model.agents.flatMap((a) => a.charts.map((chart) => ({ chart, size: agentChartSize })))];
  const total = charts.length + 2;
  let done = 0;
  const tick = (): void => options.onProgress?.(++done, total);
  const pool = options.pool ?? new ChartPool();
  const ownPool = options.pool === undefined;
  // Charts are queued a window ahead of the page being laid out: the workers
  // render while this thread draws, and at most a window of SVG text is held.
  const svgs: Array<Promise<string> | undefined> = [];
  let queued = 0;
  const svgAt = async (index: number): Promise<string> => {
    for (; queued < Math.min(charts.length, index + renderAheadCharts); queued++) {
      const { chart, size } = charts[queued] as (typeof charts)[number];
      const svg = pool.render(chartJob(chart, model.timezone, size));
      svg.catch(() => undefined);
      svgs[queued] = svg;
    }
    const svg = await (svgs[index] as Promise<string>);
    svgs[index] = undefined;
    return svg;
  };
  try {
    doc.addPage();
    cover(doc, model);
    tick();
    if (model.empty) {
      // One page: the cover facts and why there is nothing else.
      doc.outline.addItem('No data');
      doc.moveDown(2);
      doc.font(fontNames.bold).fontSize(18).text('No data', { width: textWidth(doc) });
      doc.moveDown(0.5);
      doc.font(fontNames.regular).fontSize(11).text(noDataText(model), { width: textWidth(doc) });
    } else {
      section(doc, 'Summary');
      table(doc, summaryTable(model));
      table(doc, remediationTallyTable(model));
      table(doc, anomalousTable(model));
      section(doc, 'Fleet');
      let index = 0;
      for (const chart of model.fleet) {
        drawChart(doc, chart, await svgAt(index++), fleetChartSize);
        tick();
      }
      section(doc, 'Agents');
      table(doc, agentTable(model));
      for (const agent of model.agents) {
        if (agent.charts.length === 0) continue;
        subheading(doc, `${agent.id} (${agent.state})`, agent.charts.length * (heightPt(doc, agentChartSize) + 16) + 20);
        for (const chart of agent.charts) {
          drawChart(doc, chart, await svgAt(index++), agentChartSize);
          tick();
        }
      }
      section(doc, 'Capacity');
      table(doc, capacityTable(model));
      table(doc, scalingTargetTable(model));
      table(doc, scalingDecisionTable(model));
      section(doc, 'Tasks');
      table(doc, taskSummaryTable(model));
      table(doc, taskAgentTable(model));
      table(doc, taskFailureTable(model));
      table(doc, taskWaitingTable(model));
      section(doc, 'Remediation log');
      table(doc, remediationLogTable(model));
      section(doc, 'Incidents');
      table(doc, incidentTable(model));
      section(doc, 'Alerts');
      table(doc, alertNoiseTable(model));
      table(doc, flappingTable(model));
      table(doc, alertTable(model));
      section(doc, 'Forecast scorecard');
      doc.font(fontNames.regular).fontSize(9).fillColor('#444').text(
        'Each series\u2019 trend and daily profile fitted on the previous period, forecast over this one and graded hourly: coverage is the share of hours inside the p10\u2013p90 band (80 % is calibrated); MASE below 1 beats the seasonal-naive forecast.',
        { width: textWidth(doc) },
      );
      doc.fillColor('black').moveDown(0.5);
      table(doc, scorecardTable(model));
      table(doc, diskPredictionTable(model));
    }
    pageNumbers(doc, model);
    tick();
    doc.end();
    await ended;
  } finally {
    if (ownPool) await pool.shutdown();
  }
  return Buffer.concat(chunks);
}

function textWidth(doc: PDFKit.PDFDocument): number {
  return doc.page.width - doc.page.margins.left - doc.page.margins.right;
}

function heightPt(doc: PDFKit.PDFDocument, size: ChartSize): number {
  return (textWidth(doc) * size.heightPx) / size.widthPx + 24;
}

function cover(doc: PDFKit.PDFDocument, model: ReportModel): void {
  const tz = model.timezone;
  doc.outline.addItem('Cover');
  doc.font(fontNames.bold).fontSize(28).text(model.title, marginPt, 180, { width: textWidth(doc) });
  doc.moveDown(1.5);
  doc.font(fontNames.regular).fontSize(12);
  const lines = [
    `Fleet: ${model.summary.agentCount} agent${model.summary.agentCount === 1 ? '' : 's'} (${model.summary.agentsUp} up, ${model.summary.agentsDown} down)`,
    `Period: ${formatDateTime(model.period.fromMillis, tz)} to ${formatDateTime(model.period.toMillis, tz)}`,
    `Time zone: ${tz}`,
    `Generated at: ${formatDateTime(model.generatedAtMillis, tz)} (end of the data)`,
    `Collector: ${model.collector}`,
  ];
  for (const line of lines) doc.text(line).moveDown(0.3);
}

function section(doc: PDFKit.PDFDocument, title: string): void {
  doc.addPage();
  doc.outline.addItem(title);
  doc.font(fontNames.bold).fontSize(18).fillColor('black').text(title, { width: textWidth(doc) });
  doc.moveDown(0.5);
  doc.font(fontNames.regular).fontSize(10);
}

/** A sub-heading kept on the same page as the first `keepPt` points that follow it. */
function subheading(doc: PDFKit.PDFDocument, title: string, keepPt: number): void {
  const bottom = doc.page.height - doc.page.margins.bottom;
  if (doc.y + Math.min(keepPt, 200) > bottom) doc.addPage();
  doc.moveDown(0.3);
  doc.font(fontNames.bold).fontSize(12).text(title, doc.page.margins.left, doc.y, { width: textWidth(doc) });
  doc.font(fontNames.regular).fontSize(10);
}

function table(doc: PDFKit.PDFDocument, t: TextTable): void {
  subheading(doc, t.title, 60);
  if (t.note !== undefined && t.unavailable === undefined) {
    doc.fontSize(8).fillColor('#555').text(t.note, doc.page.margins.left, doc.y, { width: textWidth(doc) });
    doc.fillColor('black').fontSize(10).moveDown(0.3);
  }
  if (t.unavailable !== undefined || t.rows.length === 0) {
    doc.fontSize(9).fillColor('#555').text(t.unavailable ?? t.empty ?? 'none in this period', { width: textWidth(doc) });
    doc.fillColor('black').fontSize(10).moveDown(0.5);
    return;
  }
  const shares = tableShares(doc, t);
  drawTable(doc, t.columns.map((title, i) => ({ title, share: shares[i] ?? 0, align: t.numeric.includes(i) ? 'right' : 'left', wrap: t.wrap?.includes(i) === true })), t.rows, fontNames);
}

function drawChart(doc: PDFKit.PDFDocument, chart: ChartData, svg: string, size: ChartSize): void {
  const width = textWidth(doc);
  const height = (width * size.heightPx) / size.widthPx + 10;
  if (doc.y + height + 16 > doc.page.height - doc.page.margins.bottom) doc.addPage();
  doc.font(fontNames.regular).fontSize(9).fillColor('#333').text(chart.title, doc.page.margins.left, doc.y, { width });
  const y = doc.y + 2;
  SVGtoPDF(doc, svg, doc.page.margins.left, y, { width, height, preserveAspectRatio: 'xMinYMin meet', fontCallback: () => fontNames.regular });
  doc.fillColor('black');
  doc.x = doc.page.margins.left;
  doc.y = y + height + 6;
}

function pageNumbers(doc: PDFKit.PDFDocument, model: ReportModel): void {
  const range = doc.bufferedPageRange();
  for (let i = range.start; i < range.start + range.count; i++) {
    doc.switchToPage(i);
    const bottomMargin = doc.page.margins.bottom;
    // Writing inside the bottom margin would otherwise start a new page.
    doc.page.margins.bottom = 0;
    doc.font(fontNames.regular).fontSize(8).fillColor('#666');
    doc.text(`${model.title} \u00b7 ${formatDateTime(model.period.fromMillis, model.timezone)} to ${formatDateTime(model.period.toMillis, model.timezone)}`, marginPt, doc.page.height - 28, { width: textWidth(doc) / 2, lineBreak: false });
    doc.text(`Page ${i + 1 - range.start} of ${range.count}`, marginPt, doc.page.height - 28, { width: textWidth(doc), align: 'right', lineBreak: false });
    doc.page.margins.bottom = bottomMargin;
  }
  doc.fillColor('black');
}
