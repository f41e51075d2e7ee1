import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runNabDetection, scoreNabResults } from '../../src/nab/index.js';

const run = promisify(execFile);
const fixture = fileURLToPath(new URL('../fixtures/nab-small/', import.meta.url));
const cli = fileURLToPath(new URL('../../../cli/dist/src/main.js', import.meta.url));

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sloth-nab-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** A 600-row 5-minute series with a level shift at row 400, and its window around it. */
async function writeCorpus(): Promise<{ data: string; labels: string }> {
  const data = join(dir, 'data');
  await mkdir(join(data, 'cat'), { recursive: true });
  const stamp = (i: number): string => new Date(Date.UTC(2024, 0, 1) + i * 300_000).toISOString().replace('T', ' ').slice(0, 19);
  const rows = Array.from({ length: 600 }, (_, i) => `${stamp(i)},${(10 + Math.sin(i / 5) + (i >= 400 ? 25 : 0)).toFixed(4)}`);
  await writeFile(join(data, 'cat', 'shift.csv'), `timestamp,value\n${rows.join('\n')}\n`);
  await writeFile(join(data, 'cat', 'quiet.csv'), `timestamp,value\n${rows.slice(0, 300).map((_, i) => `${stamp(i)},10`).join('\n')}\n`);
  const labels = join(dir, 'windows.json');
  await writeFile(labels, JSON.stringify({ 'cat/shift.csv': [[`${stamp(380)}.000000`, `${stamp(439)}.000000`]], 'cat/quiet.csv': [] }));
  return { data, labels };
}

describe('sloth bench nab', () => {
  it('runs a detector over a corpus, writes NAB result files and scores them (null detector = 0, Sloth detects the shift)', async () => {
    const { data, labels } = await writeCorpus();
    const nullOut = join(dir, 'null');
    const names = await runNabDetection({ dataDir: data, outDir: nullOut, detector: 'none', concurrency: 1 });
    expect(names).toEqual(['cat/quiet.csv', 'cat/shift.csv']);
    const nullScores = await scoreNabResults(nullOut, labels, names);
    expect(nullScores.map((s) => s.normalizedScore)).toEqual([0, 0, 0]);

    const slothOut = join(dir, 'sloth');
    let lastProgress = 0;
    await runNabDetection({ dataDir: data, outDir: slothOut, detectorOptions: { useModel: false }, concurrency: 1, onProgress: (done) => (lastProgress = done) });
    expect(lastProgress).toBe(900);
    const lines = (await readFile(join(slothOut, 'cat', 'shift.csv'), 'utf8')).trim().split('\n');
    expect(lines[0]).toBe('timestamp,value,anomaly_score');
    expect(lines).toHaveLength(601);
    const [standard] = await scoreNabResults(slothOut, labels, names);
    // The shift at row 400 lies inside the window (rows 380–439) and is found there without false alarms.
    expect(standard?.counts.tp).toBeGreaterThan(0);
    expect(standard?.normalizedScore).toBeGreaterThan(50);
  }, 60_000);

  it('the CLI scores an existing results folder (--score-only) and writes scores.json to --out only', async () => {
    const out = join(dir, 'scores');
    const { stdout } = await run('node', [cli, 'bench', 'nab', '--score-only', '--labels', `${fixture}windows.json`, '--results', `${fixture}results`, '--out', out]);
    expect(stdout).toMatch(/\| standard \| 87\.4265 \| 0\.5 \|/);
    expect(stdout).toMatch(/\| reward_low_FP_rate \| 79\.1835 \|/);
    expect(stdout).toMatch(/\| reward_low_FN_rate \| 91\.6177 \|/);
    const json = JSON.parse(await readFile(join(out, 'scores.json'), 'utf8')) as { scores: Array<{ profile: string; normalizedScore: number }> };
    expect(json.scores.map((s) => s.profile)).toEqual(['standard', 'reward_low_FP_rate', 'reward_low_FN_rate']);
  }, 60_000);

  it('the CLI names a missing data folder', async () => {
    const failed = await run('node', [cli, 'bench', 'nab', '--data', join(dir, 'nope'), '--labels', `${fixture}windows.json`, '--out', join(dir, 'o')]).then(
      () => null,
      (error: { code: number; stderr: string }) => error,
    );
    expect(failed?.code).toBe(1);
    expect(failed?.stderr).toMatch(/data directory .*nope does not exist/);
  }, 60_000);
});
