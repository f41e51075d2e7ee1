/** A paginated table in pdfkit: the header repeats on every page the table spans. */

export interface TableColumn {
  readonly title: string;
  /** Share of the text width (the shares of a table add up to 1). */
  readonly share: number;
  readonly align?: 'left' | 'right';
  /** Long text wraps onto up to {@link maxLines} lines instead of being cut. */
  readonly wrap?: boolean;
}

const rowHeightPt = 14;
export const tableFontSizePt = 8;
const fontSizePt = tableFontSizePt;
const lineHeightPt = 10;
const maxLines = 3;

export function drawTable(doc: PDFKit.PDFDocument, columns: readonly TableColumn[], rows: ReadonlyArray<readonly string[]>, fonts: { regular: string; bold: string }): void {
  const left = doc.page.margins.left;
  const width = doc.page.width - left - doc.page.margins.right;
  const widths = columns.map((c) => c.share * width);
  const bottom = (): number => doc.page.height - doc.page.margins.bottom - rowHeightPt;

  /** A row's height: one line, or as many (up to {@link maxLines}) as its wrapping cells need. */
  const heightOf = (cells: readonly string[], bold: boolean): number => {
    doc.font(bold ? fonts.bold : fonts.regular).fontSize(fontSizePt);
    let lines = 1;
    cells.forEach((cell, i) => {
      if (columns[i]?.wrap !== true || cell === '') return;
      lines = Math.max(lines, Math.min(maxLines, Math.ceil(doc.heightOfString(cell, { width: (widths[i] ?? 0) - 4 }) / doc.currentLineHeight(true) - 0.01)));
    });
    return rowHeightPt + (lines - 1) * lineHeightPt;
  };

  const line = (cells: readonly string[], bold: boolean, height: number): void => {
    const y = doc.y;
    doc.font(bold ? fonts.bold : fonts.regular).fontSize(fontSizePt);
    let x = left;
    cells.forEach((cell, i) => {
      const w = widths[i] ?? 0;
      const wraps = columns[i]?.wrap === true && height > rowHeightPt;
      doc.text(cell, x + 2, y + 3, { width: w - 4, height: wraps ? height - 4 : rowHeightPt, align: columns[i]?.align ?? 'left', lineBreak: wraps, ellipsis: true, lineGap: wraps ? lineHeightPt - doc.currentLineHeight() : 0 });
      x += w;
    });
    doc.moveTo(left, y + height).lineTo(left + width, y + height).lineWidth(bold ? 0.8 : 0.3).strokeColor(bold ? '#333' : '#bbb').stroke();
    doc.x = left;
    doc.y = y + height;
  };

  const header = columns.map((c) => c.title);
  if (doc.y > bottom() - rowHeightPt) doc.addPage();
  line(header, true, rowHeightPt);
  for (const row of rows) {
    const height = heightOf(row, false);
    if (doc.y + height - rowHeightPt > bottom()) {
      doc.addPage();
      line(header, true, rowHeightPt);
    }
    line(row, false, height);
  }
  doc.font(fonts.regular).fontSize(10);
  doc.moveDown(0.5);
}
