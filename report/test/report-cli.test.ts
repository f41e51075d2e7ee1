import { execFile, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { canConnect, freePort } from '@sloth/core';
import type { ReportModel } from '../src/index.js';
import { cliPath, fleetPoints, SeededCollector } from './helpers/seeded-collector.js';

const run = promisify(execFile);
const dayMillis = 86_400_000;
// Whole hours, in the recent past: inside the collector's retention whatever day the test runs.
const endMillis = Math.floor(Date.now() / 3_600_000) * 3_600_000 - 3_600_000;

async function report(collector: SeededCollector, args: readonly string[]): Promise<{ stdout: string; stderr: string }> {
  return await run(process.execPath, [cliPath, 'report', '--collector', collector.url, '--token', collector.token, '--since', '24h', '--until', String(endMillis), '--no-progress', ...args], {
    maxBuffer: 64 * 1024 * 1024,
  });
}

async function pdfText(file: string): Promise<string> {
  return (await run('pdftotext', ['-layout', file, '-'], { maxBuffer: 64 * 1024 * 1024 })).stdout;
}

async function pageCount(file: string): Promise<number> {
  const info = (await run('pdfinfo', [file])).stdout;
  return Number(/Pages:\s+(\d+)/.exec(info)?.[1]);
}

const sha256 = (file: string): string => createHash('sha256').update(readFileSync(file)).digest('hex');

describe('sloth report against a seeded collector', () => {
  let collector: SeededCollector;

  beforeAll(async () => {
    collector = await SeededCollector.start();
    await collector.send(fleetPoints(endMillis, dayMillis));
    // Two incidents analytics would have published for web-1's CPU, one in the previous period.
    const redis = new Redis(collector.redis.url);
    const series = 'system.cpu.utilization{agent="web-1"}';
    const event = (incidentId: string, state: string, t: number, score: number): string =>
      JSON.stringify({ seriesId: series, agentId: 'web-1', metric: 'system.cpu.utilization', timestampMillis: t, value: 0.97, score, expectedLow: 0.3, expectedHigh: 0.8, modelVersion: 'm1', incidentId, state, direction: 'above' });
    await redis.xadd(`${collector.redisPrefix}:anomalies`, '*', 'data', event('inc-1', 'open', endMillis - 5 * 3_600_000, 0.91));
    await redis.xadd(`${collector.redisPrefix}:anomalies`, '*', 'data', event('inc-1', 'resolved', endMillis - 4 * 3_600_000, 0.95));
    await redis.xadd(`${collector.redisPrefix}:anomalies`, '*', 'data', event('inc-0', 'open', endMillis - 30 * 3_600_000, 0.7));
    await redis.xadd(`${collector.redisPrefix}:anomalies`, '*', 'data', 'not json');
    redis.disconnect();
  }, 120_000);
  afterAll(async () => collector?.stop());

  it('writes a PDF whose text carries the sections, agents and the JSON model numbers, and every page renders', async () => {
    const pdf = join(collector.dir, 'a.pdf');
    const common = ['--redis-url', collector.redis.url, '--redis-prefix', collector.redisPrefix];
    const { stderr } = await report(collector, ['--pdf', '--output', pdf, ...common]);
    expect(stderr).toContain(`wrote ${pdf}`);
    const json = JSON.parse((await report(collector, ['--format', 'json', ...common])).stdout) as ReportModel;
    const text = await pdfText(pdf);

    for (const section of ['Summary', 'Fleet', 'Agents', 'Capacity', 'Remediation log', 'Incidents and alerts', 'Forecast scorecard']) expect(text).toContain(section);
    for (const agent of ['web-1', 'web-2', 'db-1']) expect(text).toContain(agent);
    expect(json.summary.agentCount).toBe(3);
    // db-1 missed the last 6 of 24 hours.
    const db = json.agents.find((a) => a.id === 'db-1');
    expect(db?.availabilityPercent.current).toBeCloseTo(75, 0);
    expect(json.summary.incidents).toEqual({ current: 1, previous: 1 });
    expect(json.summary.mostAnomalous?.[0]).toMatchObject({ agentId: 'web-1', incidents: 1, maxScore: 0.95 });
    const web1Disk = json.capacity.find((c) => c.agentId === 'web-1');
    expect(web1Disk?.warning).toBe(true);
    expect(web1Disk?.daysUntilFull).toBeGreaterThan(0.5);
    expect(web1Disk?.daysUntilFull).toBeLessThan(3);
    expect(json.scorecard.length).toBeGreaterThan(0);

    // The numbers the PDF prints are the model's.
    expect(text).toContain(json.summary.availabilityPercent.current?.toFixed(2) ?? 'missing');
    expect(text).toContain(`disk full in ${web1Disk?.daysUntilFull?.toFixed(1)} days`);
    expect(text).toContain((db?.availabilityPercent.current ?? -1).toFixed(2));
    expect(text).toContain(`${json.scorecard[0]?.coveragePercent.toFixed(1)}`);
    expect(text).toMatch(/not available: no scheduler API given/);
    expect(text).toMatch(/Page 1 of \d+/);
    // Vega's axis labels: the embedded font renders the Unicode minus and digits.
    expect(text).not.toContain('\ufffd');
    expect(text).not.toContain(collector.token);

    const pages = await pageCount(pdf);
    expect(pages).toBeGreaterThanOrEqual(6);
    expect(pages).toBeLessThanOrEqual(20);
    await run('pdftoppm', ['-r', '30', '-png', pdf, join(collector.dir, 'page')]);
    const rendered = readdirSync(collector.dir).filter((f) => f.startsWith('page') && f.endsWith('.png'));
    expect(rendered).toHaveLength(pages);
    const outline = (await run('pdfinfo', ['-struct', pdf]).catch(() => ({ stdout: '' }))).stdout;
    expect(typeof outline).toBe('string');
    expect(readFileSync(pdf).toString('latin1')).toContain('/Outlines');
  }, 180_000);

  it('gives byte-identical PDFs for the same data', async () => {
    const a = join(collector.dir, 'same-1.pdf');
    const b = join(collector.dir, 'same-2.pdf');
    await report(collector, ['--pdf', '--output', a, '--paper', 'Letter', '--timezone', 'America/New_York']);
    await report(collector, ['--pdf', '--output', b, '--paper', 'Letter', '--timezone', 'America/New_York']);
    expect(sha256(a)).toBe(sha256(b));
    const info = (await run('pdfinfo', [a])).stdout;
    expect(info).toMatch(/Page size:\s+612 x 792/);
  }, 180_000);

  it('writes Markdown and CSV with the same numbers, and names a missing source', async () => {
    const json = JSON.parse((await report(collector, ['--format', 'json'])).stdout) as ReportModel;
    const md = (await report(collector, ['--format', 'md'])).stdout;
    const csv = (await report(collector, ['--format', 'csv'])).stdout;
    expect(md).toContain('## Against the previous period');
    const web1 = json.agents.find((a) => a.id === 'web-1');
    expect(md).toContain(`| web-1 | ${web1?.state} | ${web1?.availabilityPercent.current?.toFixed(2)}`);
    expect(md).toContain('not available: no analytics incident source given (--redis-url)');
    expect(csv.split('\n')[0]).toBe('table,row,column,value');
    expect(csv).toContain(`summary,2,This period,${json.summary.availabilityPercent.current?.toFixed(2)}`);
  }, 120_000);

  it('reads the remediation log from a real scheduler, and says why when the scheduler does not answer', async () => {
    const port = await freePort();
    const playbooks = join(collector.dir, 'playbooks');
    mkdirSync(playbooks, { recursive: true });
    const scheduler = spawn(process.execPath, [cliPath, 'scheduler', '--port', String(port), '--host', '127.0.0.1', '--redis-url', collector.redis.url, '--redis-prefix', `${collector.redisPrefix}s`, '--data-dir', join(collector.dir, 'scheduler'), '--playbooks', playbooks, '--token', 'scheduler-secret-1'], { stdio: 'ignore' });
    try {
      const url = `http://127.0.0.1:${port}`;
      for (let i = 0; i < 600 && !(await canConnect('127.0.0.1', port)); i++) await new Promise((r) => setTimeout(r, 100));
      const json = JSON.parse((await report(collector, ['--format', 'json', '--scheduler', url, '--scheduler-token', 'scheduler-secret-1'])).stdout) as ReportModel;
      expect(json.remediations).toEqual({ available: true, rows: [] });
      expect(json.summary.remediationsByPlaybook).toEqual([]);
      const rejected = JSON.parse((await report(collector, ['--format', 'json', '--scheduler', url, '--scheduler-token', 'wrong'])).stdout) as ReportModel;
      expect(rejected.remediations).toEqual({ available: false, reason: `the scheduler at ${url} answered HTTP 401 (check --token)` });
    } finally {
      scheduler.kill('SIGTERM');
    }
    const nobody = `http://127.0.0.1:${await freePort()}`;
    const gone = JSON.parse((await report(collector, ['--format', 'json', '--scheduler', nobody])).stdout) as ReportModel;
    expect(gone.remediations).toEqual({ available: false, reason: `the scheduler at ${nobody} did not answer (ECONNREFUSED)` });
  }, 120_000);

  it('reads the token from --token-file and exits 3 on a wrong one without printing it', async () => {
    const file = join(collector.dir, 'token');
    writeFileSync(file, `${collector.token}\n`);
    const ok = await run(process.execPath, [cliPath, 'report', '--format', 'json', '--collector', collector.url, '--token-file', file, '--since', '24h', '--until', String(endMillis)]);
    expect((JSON.parse(ok.stdout) as ReportModel).summary.agentCount).toBe(3);
    const bad = await run(process.execPath, [cliPath, 'report', '--format', 'json', '--collector', collector.url, '--token', 'wrong-secret-xyz']).catch((e: { code: number; stderr: string; stdout: string }) => e);
    expect('code' in bad ? bad.code : 0).toBe(3);
    expect(bad.stderr).toContain('rejected the token');
    expect(bad.stderr + bad.stdout).not.toContain('wrong-secret-xyz');
    const since = await run(process.execPath, [cliPath, 'report', '--collector', collector.url, '--since', 'a week']).catch((e: { code: number; stderr: string }) => e);
    expect('code' in since ? since.code : 0).toBe(2);
    expect(since.stderr).toContain('--since "a week"');
  }, 120_000);
});

describe('sloth report without data', () => {
  let collector: SeededCollector;
  beforeAll(async () => {
    collector = await SeededCollector.start();
  }, 60_000);
  afterAll(async () => collector?.stop());

  it('writes a one-page "no data" report', async () => {
    const pdf = join(collector.dir, 'empty.pdf');
    await report(collector, ['--pdf', '--output', pdf]);
    expect(await pageCount(pdf)).toBe(1);
    const text = await pdfText(pdf);
    expect(text).toContain('No data');
    expect(text).toContain(`Collector: ${collector.url}`);
    expect(text).toContain("No data: no agent sent");
    const json = JSON.parse((await report(collector, ['--format', 'json'])).stdout) as ReportModel;
    expect(json.empty).toBe(true);
    expect(json.summary.agentCount).toBe(0);
  }, 120_000);
});
