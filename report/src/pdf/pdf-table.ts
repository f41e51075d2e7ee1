/** A paginated table in pdfkit: the header repeats on every page the table spans. */

export interface TableColumn {
  readonly title: string;
  /** Share of the text width (the shares of a table add up to 1). */
  readonly share: number;
  readonly align?: 'left' | 'right';
}

const rowHeightPt = 14;
const fontSizePt = 8;

export function drawTable(doc: PDFKit.PDFDocument, columns: readonly TableColumn[], rows: ReadonlyArray<readonly string[]>, fonts: { regular: string; bold: string }): void {
  const left = doc.page.margins.left;
  const width = doc.page.width - left - doc.page.margins.right;
  const widths = columns.map((c) => c.share * width);
  const bottom = (): number => doc.page.height - doc.page.margins.bottom - rowHeightPt;

  const line = (cells: readonly string[], bold: boolean): void => {
    const y = doc.y;
    doc.font(bold ? fonts.bold : fonts.regular).fontSize(fontSizePt);
    let x = left;
    cells.forEach((cell, i) => {
      const w = widths[i] ?? 0;
      doc.text(cell, x + 2, y + 3, { width: w - 4, height: rowHeightPt, align: columns[i]?.align ?? 'left', lineBreak: false, ellipsis: true });
      x += w;
    });
    doc.moveTo(left, y + rowHeightPt).lineTo(left + width, y + rowHeightPt).lineWidth(bold ? 0.8 : 0.3).strokeColor(bold ? '#333' : '#bbb').stroke();
    doc.x = left;
    doc.y = y + rowHeightPt;
  };

  if (doc.y > bottom() - rowHeightPt) doc.addPage();
  line(columns.map((c) => c.title), true);
  for (const row of rows) {
    if (doc.y > bottom()) {
      doc.addPage();
      line(columns.map((c) => c.title), true);
    }
    line(row, false);
  }
  doc.font(fonts.regular).fontSize(10);
  doc.moveDown(0.5);
}
