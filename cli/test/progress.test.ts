import { describe, expect, it } from 'vitest';
import { ProgressLine, progressLine, type ProgressStream } from '../src/progress.js';

/** A stand-in for standard error: records what is written; `isTTY` as given. */
class FakeStream implements ProgressStream {
  readonly writes: string[] = [];
  constructor(readonly isTTY: boolean | undefined) {}
  write(text: string): boolean {
    this.writes.push(text);
    return true;
  }
}

describe('progress line', () => {
  it('is made only for a terminal, when wanted, outside CI', () => {
    const options = { label: 'sloth detect', unit: 'rows' };
    expect(progressLine(true, options, new FakeStream(true), {})).toBeInstanceOf(ProgressLine);
    expect(progressLine(true, options, new FakeStream(false), {})).toBeUndefined();
    expect(progressLine(true, options, new FakeStream(undefined), {})).toBeUndefined();
    expect(progressLine(false, options, new FakeStream(true), {})).toBeUndefined();
    expect(progressLine(true, options, new FakeStream(true), { CI: 'true' })).toBeUndefined();
  });

  it('draws done / total with the rate in place, at most every 250 ms, and erases itself at the end', () => {
    const stream = new FakeStream(true);
    let now = 10_000;
    const line = new ProgressLine(stream, { label: 'sloth detect', unit: 'rows', now: () => now });
    line.update(0, 1_000_000);
    now += 100;
    line.update(2_000, 1_000_000); // within 250 ms of the last redraw: not drawn
    now += 1_900;
    line.update(40_000, 1_000_000);
    now += 249;
    line.update(42_000, 1_000_000);
    now += 1;
    line.update(44_000);
    line.finish();
    expect(stream.writes).toEqual([
      '\rsloth detect: 0 / 1,000,000 rows (0 %)\u001b[K',
      '\rsloth detect: 40,000 / 1,000,000 rows (4 %), 20,000 rows/s\u001b[K',
      '\rsloth detect: 44,000 rows, 19,556 rows/s\u001b[K',
      '\r\u001b[K',
    ]);
  });

  it('shows a note and leaves the rate out when asked, and erases nothing it did not draw', () => {
    const stream = new FakeStream(true);
    let now = 0;
    const line = new ProgressLine(stream, { label: 'sloth forecast', unit: 'parts', rate: false, now: () => now });
    line.finish();
    expect(stream.writes).toEqual([]);
    now = 5_000;
    line.update(18, 23, 'training the neural model, epoch 14 of 15');
    line.finish();
    expect(stream.writes).toEqual(['\rsloth forecast: 18 / 23 parts (78 %), training the neural model, epoch 14 of 15\u001b[K', '\r\u001b[K']);
  });
});
