/**
 * `sloth detect --help` explains the score with numbers written into its text: they must be what the
 * detector and its false-alarm table say, or the help drifts the day a default changes.
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { detectorTuning, falseAlarmsPerSeriesDay } from '@sloth/analytics';

const run = promisify(execFile);
const mainJs = fileURLToPath(new URL('../../dist/src/main.js', import.meta.url));

describe('sloth detect --help', () => {
  it("states the detector's firing score, warm-up, damping and false-alarm rates as the code has them", async () => {
    const help = (await run(process.execPath, [mainJs, 'detect', '--help'])).stdout.replace(/\s+/g, ' ');
    const t = detectorTuning;
    const firing = t.fireSurprise / (t.fireSurprise + t.scoreHalf);
    expect(help).toContain(`a score of about ${firing.toFixed(2)} or more`);
    expect(help).toContain(`The first ${t.likelihoodWarmupRows} rows of a series are its warm-up`);
    expect(help).toContain(`damped to 0 for ${t.suppressRows} rows (at most ${t.suppressMaxMillis / 3_600_000} hours`);
    expect(t.escapeSpan).toBe(1); // "beyond the range seen so far by more than that whole range"
    expect(help).toContain(`(0.3: ${falseAlarmsPerSeriesDay(0.3)}, 0.5: ${falseAlarmsPerSeriesDay(0.5)}, 0.7: ${falseAlarmsPerSeriesDay(0.7)})`);
  });
});
