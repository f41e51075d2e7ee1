import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseSeriesCsv, parseTimestamp } from '../../src/csv-series.js';
import { detectFile } from '../../src/detector/detect-file.js';

const run = promisify(execFile);
const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));
const cli = join(repoRoot, 'cli/dist/src/main.js');

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sloth-detect-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function detect(csv: string, options: Parameters<typeof detectFile>[2] = {}): Promise<{ lines: string[]; result: Awaited<ReturnType<typeof detectFile>> }> {
  const input = join(dir, 'in.csv');
  const output = join(dir, 'out.csv');
  await writeFile(input, csv);
  const result = await detectFile(input, output, { detectorOptions: { useModel: false }, ...options });
  return { lines: (await readFile(output, 'utf8')).trim().split('\n'), result };
}

function series(n: number, value: (i: number) => number, header = true): string {
  const rows = Array.from({ length: n }, (_, i) => `${new Date(Date.UTC(2024, 0, 1) + i * 300_000).toISOString().replace('T', ' ').slice(0, 19)},${value(i)}`);
  return `${header ? 'timestamp,value\n' : ''}${rows.join('\n')}\n`;
}

describe('timestamp parsing', () => {
  it('reads NAB, ISO 8601 and epoch seconds / milliseconds', () => {
    const t = Date.UTC(2014, 3, 1, 0, 5, 0);
    expect(parseTimestamp('2014-04-01 00:05:00')).toBe(t);
    expect(parseTimestamp('2014-04-01 00:05:00.000000')).toBe(t);
    expect(parseTimestamp('2014-04-01T00:05:00Z')).toBe(t);
    expect(parseTimestamp('2014-04-01T02:05:00+02:00')).toBe(t);
    expect(parseTimestamp(String(t / 1000))).toBe(t);
    expect(parseTimestamp(String(t))).toBe(t);
    expect(parseTimestamp('timestamp')).toBeNull();
    expect(parseTimestamp('2014-13-45 99:00:00')).toBeNull();
  });
});

describe('sloth detect input handling', () => {
  it('writes timestamp,value,anomaly_score for every row, echoing timestamps', async () => {
    const { lines, result } = await detect(series(50, (i) => i % 7));
    expect(lines[0]).toBe('timestamp,value,anomaly_score');
    expect(lines).toHaveLength(51);
    expect(lines[1]).toMatch(/^2024-01-01 00:00:00,0,0$/);
    expect(result.rows).toBe(50);
  });

  it('reads a header-less file and skips empty lines (CSV gaps)', async () => {
    const body = series(6, (i) => i, false).replace('\n', '\n\n  \n');
    const { lines } = await detect(body);
    expect(lines.slice(1)).toHaveLength(6);
    expect(lines[1]?.startsWith('2024-01-01 00:00:00,0,')).toBe(true);
  });

  it('rejects NaN and non-numeric values naming the line', async () => {
    await expect(detect('timestamp,value\n2024-01-01 00:00:00,1\n2024-01-01 00:05:00,NaN\n')).rejects.toThrow(/in\.csv:3: value "NaN" is not a finite number/);
    await expect(detect('2024-01-01 00:00:00,1\n2024-01-01 00:05:00,abc\n')).rejects.toThrow(/:2: value "abc"/);
    await expect(detect('2024-01-01 00:00:00,1\n2024-01-01 00:05:00\n')).rejects.toThrow(/:2: missing value/);
    await expect(detect('2024-01-01 00:00:00,1\nyesterday,4\n')).rejects.toThrow(/:2: cannot read timestamp "yesterday"/);
  });

  it('scores duplicate timestamps in order and applies the going-backwards policy', async () => {
    const csv = 'timestamp,value\n2024-01-01 00:00:00,1\n2024-01-01 00:00:00,2\n2024-01-01 00:10:00,3\n2024-01-01 00:05:00,4\n';
    const kept = await detect(csv);
    expect(kept.lines).toHaveLength(5);
    expect(kept.result.backwardsLines).toEqual([5]);
    const skipped = await detect(csv, { backwards: 'skip' });
    expect(skipped.lines.map((l) => l.split(',')[1])).toEqual(['value', '1', '2', '3']);
    await expect(detect(csv, { backwards: 'error' })).rejects.toThrow(/in\.csv:5: timestamp "2024-01-01 00:05:00" is earlier than the previous row's/);
  });

  it('keeps a constant series low and handles three points and an empty file', async () => {
    const constant = await detect(series(800, () => 42));
    const scores = constant.lines.slice(1).map((l) => Number(l.split(',')[2]));
    expect(scores.every((s) => Number.isFinite(s) && s >= 0 && s < 0.2)).toBe(true);
    const three = await detect(series(3, (i) => i));
    expect(three.lines).toHaveLength(4);
    const empty = await detect('timestamp,value\n');
    expect(empty.lines).toEqual(['timestamp,value,anomaly_score']);
    expect(empty.result.rows).toBe(0);
  });

  it('the CLI reports bad input with a clear message and exit code 1, and scores good input', async () => {
    const bad = join(dir, 'bad.csv');
    await writeFile(bad, 'timestamp,value\n2024-01-01 00:00:00,1\n2024-01-01 00:05:00,oops\n');
    const failed = await run('node', [cli, 'detect', '--input', bad, '--output', join(dir, 'o.csv')]).then(
      () => null,
      (error: { code: number; stderr: string }) => error,
    );
    expect(failed?.code).toBe(1);
    expect(failed?.stderr).toMatch(/SLOTH_ERR_INPUT.*bad\.csv:3: value "oops" is not a finite number/);
    expect(failed?.stderr).not.toMatch(/at .*\.js:\d+/);

    const good = join(dir, 'good.csv');
    await writeFile(good, series(30, (i) => i % 5));
    const ok = await run('node', [cli, 'detect', '--input', good, '--output', join(dir, 'scores.csv')]);
    expect(ok.stderr).toMatch(/30 rows scored/);
    const out = (await readFile(join(dir, 'scores.csv'), 'utf8')).trim().split('\n');
    expect(out).toHaveLength(31);
    expect(parseSeriesCsv('1700000000,3\n')).toEqual([{ timestampMillis: 1_700_000_000_000, timestampText: '1700000000', value: 3, line: 1 }]);
    // A third column makes "the value" a guess: refused naming the line; an empty trailing field is not a column.
    expect(() => parseSeriesCsv('timestamp,cpu,memory\n1700000000,3,9\n')).toThrow(/:2: 3 fields; expected two, "timestamp,value"/);
    expect(parseSeriesCsv('1700000000,3,\n')).toHaveLength(1);
  }, 60_000);

  it('the CLI scores with statistics only by default and trains the TF.js model only with --model (rule M)', async () => {
    const input = join(dir, 'long.csv');
    // 600 rows: past the model's first training (400 rows), so a model run reports a trained version.
    await writeFile(input, series(600, (i) => 50 + 10 * Math.sin(i / 12) + (i % 7)));
    const plain = await run('node', [cli, 'detect', '--input', input, '--output', join(dir, 'plain.csv')]);
    expect(plain.stderr).toMatch(/600 rows scored \(model stats\)/);
    const model = await run('node', [cli, 'detect', '--input', input, '--output', join(dir, 'model.csv'), '--model']);
    expect(model.stderr).toMatch(/600 rows scored \(model mlp-v\d+\)/);
    const statsOnly = await run('node', [cli, 'detect', '--input', input, '--output', join(dir, 'stats.csv'), '--stats-only']);
    expect(await readFile(join(dir, 'stats.csv'), 'utf8')).toBe(await readFile(join(dir, 'plain.csv'), 'utf8'));
    expect(statsOnly.stderr).toMatch(/\(model stats\)/);

    for (const extra of [['--model', '--stats-only'], ['--model', '--algorithm', 'ensemble']]) {
      const refused = await run('node', [cli, 'detect', '--input', input, '--output', join(dir, 'refused.csv'), ...extra]).then(
        () => null,
        (error: { code: number; stderr: string }) => error,
      );
      expect(refused?.code).toBe(1);
      expect(refused?.stderr).toMatch(/SLOTH_ERR_INPUT.*--model/);
      expect(refused?.stderr).not.toMatch(/at .*\.js:\d+/);
    }
  }, 120_000);
});

describe('detectFile output', () => {
  it('leaves an earlier output as it was when a run fails half-way, and no partial file behind', async () => {
    const input = join(dir, 'in.csv');
    const output = join(dir, 'out.csv');
    await writeFile(output, 'an earlier run\n');
    // 40,000 good rows (several written chunks), then a bad one.
    await writeFile(input, `${series(40_000, (i) => 100 + (i % 7))}2024-06-01 00:00:00,not-a-number\n`);
    await expect(detectFile(input, output, { detectorOptions: { useModel: false } })).rejects.toThrow(/not-a-number|value/);
    expect(await readFile(output, 'utf8')).toBe('an earlier run\n');
    expect((await readdir(dir)).sort()).toEqual(['in.csv', 'out.csv']);
    // A run that succeeds replaces it whole.
    await writeFile(input, series(200, (i) => 100 + (i % 7)));
    await detectFile(input, output, { detectorOptions: { useModel: false } });
    expect((await readFile(output, 'utf8')).split('\n')[0]).toBe('timestamp,value,anomaly_score');
    expect((await readdir(dir)).sort()).toEqual(['in.csv', 'out.csv']);
  });
});
