import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, test } from 'vitest';
import {
  anomalyTriggerThreshold,
  falseRateAtScore,
  liveIncidentTable,
  loadPlaybook,
  matchTriggers,
  minScoreForFalseRate,
  rarestRate,
  validateMetadata,
  type AnomalyTrigger,
  type LiveIncidentRate,
  type PlaybookMetadata,
} from '../../src/playbook/index.js';
import { cpuBurn } from '../helpers/anomaly-events.js';
import { playbookSource } from './helpers.js';

const repo = (path: string): string => fileURLToPath(new URL(`../../../${path}`, import.meta.url));

/** A table with distinct rates, so every resolution path shows. */
const table: readonly LiveIncidentRate[] = [
  { minScore: 0.68, incidents: 9, seriesDays: 100, perSeriesDay: 0.16 },
  { minScore: 0.8, incidents: 2, seriesDays: 100, perSeriesDay: 0.063 },
  { minScore: 0.9, incidents: 0, seriesDays: 100, perSeriesDay: 0.03 },
  { minScore: 0.99, incidents: 0, seriesDays: 100, perSeriesDay: 0.03 },
];

const trigger = (fields: string): string => `triggers = { { anomaly = { metric = "system.cpu.*", direction = "above", min_duration = 20, ${fields} } } },`;

function problems(anomaly: Record<string, unknown>): string[] {
  return validateMetadata({ name: 'calibrated', description: '', run: { $function: true }, triggers: [{ anomaly: { metric: 'm', ...anomaly } }] })
    .problems.filter((p) => p.severity === 'error')
    .map((p) => p.message);
}

describe('live incident calibration table', () => {
  test('scores rise, rates never do, and every rate is at least the bound its count allows (never 0)', () => {
    expect(liveIncidentTable.length).toBeGreaterThan(1);
    liveIncidentTable.forEach((row, i) => {
      // The one-sided 95 % Poisson upper bound of 0 events is 2.996; each further event raises it.
      expect(row.perSeriesDay * row.seriesDays).toBeGreaterThanOrEqual(2.99 + row.incidents);
      if (i === 0) return;
      const before = liveIncidentTable[i - 1] as LiveIncidentRate;
      expect(row.minScore).toBeGreaterThan(before.minScore);
      expect(row.perSeriesDay).toBeLessThanOrEqual(before.perSeriesDay);
      expect(row.incidents).toBeLessThanOrEqual(before.incidents);
    });
  });
});

describe('max_false_per_day resolution', () => {
  test('the lowest tabulated score whose rate is at most the budget; none when the budget is rarer than the table', () => {
    expect(minScoreForFalseRate(1, table)?.minScore).toBe(0.68);
    expect(minScoreForFalseRate(0.16, table)?.minScore).toBe(0.68);
    expect(minScoreForFalseRate(0.1, table)?.minScore).toBe(0.8);
    expect(minScoreForFalseRate(0.05, table)?.minScore).toBe(0.9);
    expect(minScoreForFalseRate(0.03, table)?.minScore).toBe(0.9);
    expect(minScoreForFalseRate(0.029, table)).toBeUndefined();
    expect(minScoreForFalseRate(0, table)).toBeUndefined();
    expect(rarestRate(table)).toEqual(table[2]);
  });

  test('a minimum score stands for the rate of the highest tabulated score at or below it', () => {
    expect(falseRateAtScore(0.6, table)).toBeUndefined();
    expect(falseRateAtScore(0.68, table)?.perSeriesDay).toBe(0.16);
    expect(falseRateAtScore(0.85, table)?.perSeriesDay).toBe(0.063);
    expect(falseRateAtScore(1, table)?.perSeriesDay).toBe(0.03);
  });

  test('bad values are refused, naming the field and the value', () => {
    const field = 'triggers[1].anomaly.max_false_per_day must be a number >= 0 of false incidents per series-day';
    expect(problems({ max_false_per_day: -0.1 })).toEqual([`${field} (got number -0.1)`]);
    expect(problems({ max_false_per_day: Number.NaN })).toEqual([`${field} (got number NaN)`]);
    expect(problems({ max_false_per_day: Number.POSITIVE_INFINITY })).toEqual([`${field} (got number Infinity)`]);
    expect(problems({ max_false_per_day: '0.1' })).toEqual([`${field} (got string "0.1")`]);
    expect(problems({ max_false_per_day: true })).toEqual([`${field} (got boolean true)`]);
    // min_score's NaN used to pass its range check.
    expect(problems({ min_score: Number.NaN })).toEqual(['triggers[1].anomaly.min_score must be a number in [0, 1] (got number NaN)']);
  });

  test('a budget no tabulated score meets refuses the playbook, naming it, the value and the rarest rate', async () => {
    const rarest = rarestRate();
    for (const budget of [0, rarest.perSeriesDay / 2]) {
      const messages = problems({ max_false_per_day: budget });
      expect(messages).toHaveLength(1);
      expect(messages[0]).toContain(`playbook 'calibrated': triggers[1].anomaly.max_false_per_day = ${budget} is rarer than any score`);
      expect(messages[0]).toContain(`<= ${rarest.perSeriesDay} false incidents per series-day at score >= ${rarest.minScore}`);
    }
    await expect(loadPlaybook(playbookSource('return true', trigger('max_false_per_day = 0')), 't.lua')).rejects.toThrow(/playbook 't': triggers\[1\]\.anomaly\.max_false_per_day = 0 is rarer/);
  });

  test('a playbook with max_false_per_day loads, matches at its resolved score and not below it, and says what the score stands for', async () => {
    for (const row of liveIncidentTable) {
      const { metadata } = await loadPlaybook(playbookSource('return true', trigger(`max_false_per_day = ${row.perSeriesDay}`)), 't.lua');
      const resolved = minScoreForFalseRate(row.perSeriesDay) as LiveIncidentRate;
      expect(resolved.minScore).toBeLessThanOrEqual(row.minScore);
      expect(anomalyTriggerThreshold((metadata.triggers[0] as { anomaly: never }).anomaly)?.minScore).toBe(resolved.minScore);
      const [match] = matchTriggers(metadata, { source: 'anomaly', anomaly: cpuBurn(resolved.minScore) });
      expect(match?.reason).toBe(
        `anomaly on system.cpu.utilization with score ${resolved.minScore} >= ${resolved.minScore} (max_false_per_day ${row.perSeriesDay} -> score >= ${resolved.minScore}, <= ${resolved.perSeriesDay} false incidents per series-day at 1 s), above the expected range, lasting 25 s >= 20 s`,
      );
      expect(matchTriggers(metadata, { source: 'anomaly', anomaly: cpuBurn(resolved.minScore - 0.005) })).toEqual([]);
      // The other conditions still hold: a dip never matches.
      expect(matchTriggers(metadata, { source: 'anomaly', anomaly: { ...cpuBurn(1), direction: 'below', value: 0 } })).toEqual([]);
    }
  });

  test('with min_score too, the stricter wins either way', async () => {
    const first = liveIncidentTable[0] as LiveIncidentRate;
    // max_false_per_day at the first row's rate resolves to the first score; min_score 0.97 is stricter.
    const { metadata: strictScore } = await loadPlaybook(playbookSource('return true', trigger(`max_false_per_day = ${first.perSeriesDay}, min_score = 0.97`)), 't.lua');
    expect(matchTriggers(strictScore, { source: 'anomaly', anomaly: cpuBurn(0.96) })).toEqual([]);
    const [strict] = matchTriggers(strictScore, { source: 'anomaly', anomaly: cpuBurn(0.97) });
    expect(strict?.reason).toContain(`score 0.97 >= 0.97 (min_score 0.97 is stricter than max_false_per_day ${first.perSeriesDay} -> score >= ${first.minScore}`);
    // A min_score below the resolved score does not loosen it.
    const rarest = rarestRate();
    const { metadata: strictRate } = await loadPlaybook(playbookSource('return true', trigger(`max_false_per_day = ${rarest.perSeriesDay}, min_score = 0.5`)), 't.lua');
    expect(matchTriggers(strictRate, { source: 'anomaly', anomaly: cpuBurn(rarest.minScore) }).map((m) => m.index)).toEqual([0]);
    expect(matchTriggers(strictRate, { source: 'anomaly', anomaly: cpuBurn(Math.max(0.5, rarest.minScore - 0.005)) })).toEqual([]);
  });

  test('metadata built outside the loader with an unresolvable budget matches nothing', () => {
    const metadata: PlaybookMetadata = { name: 'p', description: '', version: '1', params: {}, requiresApproval: false, triggers: [{ anomaly: { metric: '*', max_false_per_day: 0 } }] };
    expect(matchTriggers(metadata, { source: 'anomaly', anomaly: { ...cpuBurn(1), state: 'open' } })).toEqual([]);
  });

  test('a plain min_score in the table says the rate it stands for; below the table it says nothing more', () => {
    const first = liveIncidentTable[0] as LiveIncidentRate;
    const at = (minScore: number): PlaybookMetadata => ({ name: 'p', description: '', version: '1', params: {}, requiresApproval: false, triggers: [{ anomaly: { metric: '*', min_score: minScore } }] });
    const open = { ...cpuBurn(0.999), state: 'open' as const };
    expect(matchTriggers(at(first.minScore), { source: 'anomaly', anomaly: open })[0]?.reason).toBe(
      `anomaly on system.cpu.utilization with score 0.999 >= ${first.minScore} (<= ${first.perSeriesDay} false incidents per series-day at 1 s)`,
    );
    expect(matchTriggers(at(0.5), { source: 'anomaly', anomaly: open })[0]?.reason).toBe('anomaly on system.cpu.utilization with score 0.999 >= 0.5');
  });
});

describe('the shipped playbooks are set from the calibration', () => {
  const shipped = async (name: string): Promise<PlaybookMetadata> => (await loadPlaybook(readFileSync(repo(`playbooks/${name}.lua`), 'utf8'), `${name}.lua`)).metadata;
  const anomalyTrigger = (metadata: PlaybookMetadata): AnomalyTrigger | undefined => metadata.triggers.flatMap((t) => ('anomaly' in t ? [t.anomaly] : []))[0];

  test('each anomaly trigger states its budget in false incidents per series-day', async () => {
    for (const [name, budget] of [
      ['kill-top-cpu', 0.021],
      ['report-top-memory', 0.1],
      ['notify-webhook', 0.021],
    ] as const) {
      expect(anomalyTrigger(await shipped(name))?.max_false_per_day, name).toBe(budget);
    }
    // kill-top-cpu asks for the rarest rate the table vouches for; report-top-memory's budget admits the
    // score at which incidents open; notify-webhook keeps 0.99 (it fans out over every series and pages a human).
    expect(anomalyTriggerThreshold(anomalyTrigger(await shipped('kill-top-cpu')) as AnomalyTrigger)?.minScore).toBe(rarestRate().minScore);
    expect(anomalyTriggerThreshold(anomalyTrigger(await shipped('report-top-memory')) as AnomalyTrigger)?.minScore).toBe(liveIncidentTable[0]?.minScore);
    expect(anomalyTrigger(await shipped('notify-webhook'))?.min_score).toBe(0.99);
    expect(anomalyTriggerThreshold(anomalyTrigger(await shipped('notify-webhook')) as AnomalyTrigger)?.minScore).toBe(0.99);
  });
});
