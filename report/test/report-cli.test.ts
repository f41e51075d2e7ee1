import { execFile, spawn, type ChildProcess } from 'node:child_process';
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

/** Where no alerts API listens: reports that do not name one must not read whatever listens on the default port. */
let noAlerts = 'http://127.0.0.1:9';

async function report(collector: SeededCollector, args: readonly string[]): Promise<{ stdout: string; stderr: string }> {
  return await run(process.execPath, [cliPath, 'report', '--collector', collector.url, '--token', collector.token, '--since', '24h', '--until', String(endMillis), '--no-progress', '--alerts-url', noAlerts, ...args], {
    maxBuffer: 64 * 1024 * 1024,
  });
}

/** A role of the built CLI as a child process, ready once its port accepts connections. */
async function startRole(args: readonly string[], port: number): Promise<ChildProcess> {
  const child = spawn(process.execPath, [cliPath, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr?.on('data', (chunk: Buffer) => (err += chunk.toString()));
  for (let i = 0; i < 600 && !(await canConnect('127.0.0.1', port)); i++) {
    if (child.exitCode !== null) throw new Error(`${args[0]} exited ${child.exitCode}:\n${err}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return child;
}

async function stopRole(child: ChildProcess | undefined): Promise<void> {
  if (child === undefined || child.exitCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await exited;
}

const minuteMillis = 60_000;
const hourMillis = 3_600_000;

/**
 * The alerts service's notification log as it records it (newest first), for
 * a day that already passed: HighCpu on web-1 fires, resolves after 30 min,
 * fires again (a flap) and resolves after 2 h, also sent to a second
 * receiver; DiskFilling fired and resolved in the previous period and fires
 * again in this one; NoisyDisk on db-1 fires and resolves every 10 minutes
 * for 10 hours (60 firings, 59 flaps: more rows than one page holds).
 */
function alertNotifications(): Array<Record<string, unknown>> {
  const out: Array<Record<string, unknown>> = [];
  const add = (atMillis: number, groupLabels: Record<string, string>, firing: string[], resolved: string[], receiver = 'oncall'): void => {
    out.push({ atMillis, receiver, groupKey: `${receiver}:${JSON.stringify(groupLabels)}`, groupLabels, firing, resolved, outcome: 'sent', detail: 'slack: sent' });
  };
  const cpu = { alertname: 'HighCpu', agent: 'web-1' };
  const disk = { alertname: 'DiskFilling', agent: 'web-1' };
  const noisy = { alertname: 'NoisyDisk', agent: 'db-1' };
  add(endMillis - 30 * hourMillis, disk, ['DiskFilling'], []);
  add(endMillis - 28 * hourMillis, disk, [], ['DiskFilling']);
  for (const receiver of ['oncall', 'webhook']) {
    add(endMillis - 20 * hourMillis, cpu, ['HighCpu'], [], receiver);
    add(endMillis - 20 * hourMillis + 30 * minuteMillis, cpu, [], ['HighCpu'], receiver);
    add(endMillis - 18 * hourMillis, cpu, ['HighCpu'], [], receiver);
    add(endMillis - 16 * hourMillis, cpu, [], ['HighCpu'], receiver);
  }
  add(endMillis - 10 * hourMillis, disk, ['DiskFilling'], []);
  for (let i = 0; i < 60; i++) {
    const t = endMillis - 12 * hourMillis + i * 10 * minuteMillis;
    add(t, noisy, ['NoisyDisk'], []);
    add(t + 5 * minuteMillis, noisy, [], ['NoisyDisk']);
  }
  return out.sort((a, b) => (a.atMillis as number) - (b.atMillis as number));
}

/** Decisions as the scheduler records them (newest first), for the targets of {@link schedulerConfig}. */
function scalingDecisions(): Record<string, Array<Record<string, unknown>>> {
  const decision = (target: string, targetMode: string, timestampMillis: number, action: string, previousReplicas: number, replicas: number, extra: Record<string, unknown> = {}): Record<string, unknown> => ({
    step: 0,
    timestampMillis,
    demand: 180,
    mode: 'predictive',
    previousReplicas,
    reactiveReplicas: replicas,
    predictiveReplicas: replicas,
    forecastValue: 210,
    replicas,
    action,
    coverage: 0.8,
    mase: 0.7,
    cappedAtMax: false,
    reasons: [`forecast p80 210 needs ${replicas} replicas`],
    target,
    targetMode,
    acted: false,
    actuation: null,
    forecastModel: 'lstm@3',
    ...extra,
  });
  return {
    api: [
      decision('api', 'act', endMillis - 30 * hourMillis, 'scale-out', 2, 3, { acted: true, actuation: { kind: 'ok', detail: 'webhook answered 200' } }),
      decision('api', 'act', endMillis - 9 * hourMillis, 'scale-out', 3, 5, { acted: true, actuation: { kind: 'ok', detail: 'webhook answered 200' } }),
      decision('api', 'act', endMillis - 8 * hourMillis, 'hold', 5, 5),
      decision('api', 'act', endMillis - 3 * hourMillis, 'scale-in', 5, 4, { actuation: { kind: 'failure', detail: 'webhook answered 503' }, reasons: ['demand fell: 4 replicas', 'actuation failed: webhook answered 503; still at 5'] }),
    ],
    web: [decision('web', 'forecast-only', endMillis - 6 * hourMillis, 'scale-out', 2, 4, { reasons: ['forecast p80 210 needs 4 replicas', 'target in forecast-only mode: would scale-out to 4, not acted on'] })],
  };
}

/** A task parameter that must never reach the report. */
const taskParamSecret = 'task-param-secret-55';

/**
 * Task records as the scheduler stores them, for the day that already passed:
 * two succeeded (one of them redelivered once), one failed twice (its name and
 * reason carry control characters, its command line the scheduler token, its
 * params a secret), one still waiting, and one of the previous period.
 */
function seededTasks(schedulerToken: string): Array<Record<string, unknown>> {
  const spec = (extra: Record<string, unknown>): Record<string, unknown> => ({ params: {}, priority: 100, resources: { cpuCores: 0.5, memoryMb: 64 }, constraints: {}, affinity: [], timeoutSeconds: 300, retries: { attempts: 1, backoffSeconds: 5 }, ...extra });
  const attempt = (taskId: string, n: number, agentId: string, placedAtMillis: number, runSeconds: number | null, outcome: string | null, message: string | null, extra: Record<string, unknown> = {}): Record<string, unknown> => ({
    attempt: n,
    agentId,
    runId: `${taskId}.a${n}`,
    placedAtMillis,
    startedAtMillis: runSeconds === null ? null : placedAtMillis + 1_000,
    finishedAtMillis: runSeconds === null ? null : placedAtMillis + 1_000 + runSeconds * 1_000,
    outcome,
    message,
    ...extra,
  });
  const task = (id: string, state: string, createdAtMillis: number, specExtra: Record<string, unknown>, reason: string | null, attempts: Array<Record<string, unknown>>): Record<string, unknown> => ({
    id,
    spec: spec(specExtra),
    state,
    submittedBy: 'ops',
    createdAtMillis,
    updatedAtMillis: createdAtMillis + 5 * minuteMillis,
    reason,
    attempts,
    avoidAgents: [],
  });
  const created = (hoursBeforeEnd: number): number => endMillis - hoursBeforeEnd * hourMillis;
  return [
    task('tk-old', 'succeeded', created(30), { playbook: 'restart-nginx' }, 'succeeded on web-1', [attempt('tk-old', 1, 'web-1', created(30) + 1_000, 5, 'succeeded', 'ok')]),
    task('tk-ok-1', 'succeeded', created(20), { playbook: 'restart-nginx' }, 'succeeded on web-1', [attempt('tk-ok-1', 1, 'web-1', created(20) + 4_000, 60, 'succeeded', 'ok')]),
    task('tk-ok-2', 'succeeded', created(10), { name: 'nightly export', command: ['echo', 'hi'] }, 'succeeded on web-2', [attempt('tk-ok-2', 1, 'web-2', created(10) + 2_000, 30, 'succeeded', 'ok', { redeliveries: 1 })]),
    task('tk-fail', 'failed', created(6), { name: 'deploy \u001b[31mcanary\u001b[0m\u0007', command: ['deploy.sh', '--token', schedulerToken], params: { apiKey: taskParamSecret } }, 'attempt 2 on db-1 failed: exit 2\nTraceback (most recent call last)', [
      attempt('tk-fail', 1, 'web-1', created(6) + 3_000, 10, 'failed', 'exit 1'),
      attempt('tk-fail', 2, 'db-1', created(6) + 60_000, 20, 'failed', 'exit 2'),
    ]),
    task('tk-wait', 'waiting', created(2), { playbook: 'rebuild-index' }, 'no agent has room: 3 exhausted (memoryMb)', []),
  ];
}

const schedulerConfig = {
  scheduler: {
    scaling: [
      // Decisions an hour apart: none is made while the test runs (they are seeded).
      { name: 'api', demandSeries: 'http.server.requests{agent="web-1"}', capacityPerReplica: 50, minReplicas: 1, maxReplicas: 10, startupSeconds: 60, intervalSeconds: 3600, mode: 'act', actuator: { kind: 'webhook', url: 'http://127.0.0.1:9/scale', secret: 'scale-webhook-secret-0123' } },
      { name: 'web', demandSeries: 'http.server.requests{agent="web-2"}', capacityPerReplica: 50, minReplicas: 1, maxReplicas: 10, startupSeconds: 60, intervalSeconds: 3600 },
    ],
  },
};

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
  let alerts: ChildProcess | undefined;
  let scheduler: ChildProcess | undefined;
  let alertsUrl = '';
  let schedulerUrl = '';
  const alertsToken = 'alerts-secret-9c1d';
  const schedulerToken = 'scheduler-secret-1';
  /** Every source: collector, incidents, scheduler and alerts. */
  let sources: string[] = [];

  beforeAll(async () => {
    collector = await SeededCollector.start();
    noAlerts = `http://127.0.0.1:${await freePort()}`;
    await collector.send(fleetPoints(endMillis, dayMillis));
    const seed = new Redis(collector.redis.url);
    const alertsPrefix = `${collector.redisPrefix}a`;
    for (const record of alertNotifications()) await seed.lpush(`${alertsPrefix}:alerts:history`, JSON.stringify(record));
    const schedulerPrefix = `${collector.redisPrefix}s`;
    for (const [target, list] of Object.entries(scalingDecisions())) for (const d of list) await seed.lpush(`${schedulerPrefix}:scaling:decisions:${target}`, JSON.stringify(d));
    // Task records and their time index, as the scheduler's task store writes them.
    for (const t of seededTasks(schedulerToken)) {
      await seed.hset(`${schedulerPrefix}:task:${t.id as string}`, 'version', '1', 'record', JSON.stringify(t), 'decision', 'null');
      await seed.zadd(`${schedulerPrefix}:task-index`, t.createdAtMillis as number, t.id as string);
    }
    seed.disconnect();
    const alertsPort = await freePort();
    alertsUrl = `http://127.0.0.1:${alertsPort}`;
    // No rules: the service only serves the seeded log (a named alerts file must exist).
    writeFileSync(join(collector.dir, 'no-alerts.yaml'), JSON.stringify({ route: { receiver: 'oncall' }, receivers: [{ name: 'oncall' }] }));
    alerts = await startRole(
      ['alerts', '--port', String(alertsPort), '--metrics-port', '0', '--host', '127.0.0.1', '--redis-url', collector.redis.url, '--redis-prefix', alertsPrefix, '--data-dir', join(collector.dir, 'alerts'), '--rules', join(collector.dir, 'no-alerts.yaml'), '--token', alertsToken, '--collector', collector.url, '--log-level', 'warn'],
      alertsPort,
    );
    const schedulerPort = await freePort();
    schedulerUrl = `http://127.0.0.1:${schedulerPort}`;
    const playbooks = join(collector.dir, 'playbooks');
    mkdirSync(playbooks, { recursive: true });
    const config = join(collector.dir, 'scheduler.yaml');
    writeFileSync(config, JSON.stringify(schedulerConfig));
    scheduler = await startRole(
      ['scheduler', '--config', config, '--port', String(schedulerPort), '--metrics-port', '0', '--host', '127.0.0.1', '--redis-url', collector.redis.url, '--redis-prefix', schedulerPrefix, '--data-dir', join(collector.dir, 'scheduler'), '--playbooks', playbooks, '--token', schedulerToken, '--log-level', 'warn'],
      schedulerPort,
    );
    sources = ['--redis-url', collector.redis.url, '--redis-prefix', collector.redisPrefix, '--scheduler', schedulerUrl, '--scheduler-token', schedulerToken, '--alerts-url', alertsUrl, '--alerts-token', alertsToken];
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
  }, 180_000);
  afterAll(async () => {
    await stopRole(alerts);
    await stopRole(scheduler);
    await collector?.stop();
  });

  it('writes a PDF whose text carries the sections, agents and the JSON model numbers, and every page renders', async () => {
    const pdf = join(collector.dir, 'a.pdf');
    const { stderr } = await report(collector, ['--pdf', '--output', pdf, ...sources]);
    expect(stderr).toContain(`wrote ${pdf}`);
    const json = JSON.parse((await report(collector, ['--format', 'json', ...sources])).stdout) as ReportModel;
    const text = await pdfText(pdf);

    for (const section of ['Summary', 'Fleet', 'Agents', 'Capacity', 'Scaling decisions', 'Tasks', 'Task placements per agent', 'Failed tasks', 'Remediation log', 'Incidents', 'Alerts', 'Alert noise', 'Alert history', 'Forecast scorecard', 'Disk-full predictions']) expect(text).toContain(section);
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
    expect(text).toMatch(/Page 1 of \d+/);
    // Vega's axis labels: the embedded font renders the Unicode minus and digits.
    expect(text).not.toContain('\ufffd');
    for (const secret of [collector.token, alertsToken, schedulerToken, 'scale-webhook-secret-0123', taskParamSecret]) {
      expect(text).not.toContain(secret);
      expect(JSON.stringify(json)).not.toContain(secret);
    }

    const pages = await pageCount(pdf);
    expect(pages).toBeGreaterThanOrEqual(6);
    expect(pages).toBeLessThanOrEqual(24);
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
    await report(collector, ['--pdf', '--output', a, '--paper', 'Letter', '--timezone', 'America/New_York', ...sources]);
    await report(collector, ['--pdf', '--output', b, '--paper', 'Letter', '--timezone', 'America/New_York', ...sources]);
    expect(sha256(a)).toBe(sha256(b));
    const info = (await run('pdfinfo', [a])).stdout;
    expect(info).toMatch(/Page size:\s+612 x 792/);
  }, 180_000);

  it('writes Markdown and CSV with the same numbers, and names a missing source', async () => {
    const json = JSON.parse((await report(collector, ['--format', 'json'])).stdout) as ReportModel;
    const md = (await report(collector, ['--format', 'md'])).stdout;
    const csv = (await report(collector, ['--format', 'csv'])).stdout;
    const withAlerts = (await report(collector, ['--format', 'csv', '--alerts-url', alertsUrl, '--alerts-token', alertsToken])).stdout;
    expect(withAlerts).toContain('summary,4,This period,63');
    expect(withAlerts).toContain('alert-noise,1,Rule,NoisyDisk');
    expect(md).toContain('## Against the previous period');
    const web1 = json.agents.find((a) => a.id === 'web-1');
    expect(md).toContain(`| web-1 | ${web1?.state} | ${web1?.availabilityPercent.current?.toFixed(2)}`);
    expect(md).toContain('not available: no analytics incident source given (--redis-url)');
    expect(csv.split('\n')[0]).toBe('table,row,column,value');
    expect(csv).toContain(`summary,2,This period,${json.summary.availabilityPercent.current?.toFixed(2)}`);
  }, 120_000);

  it('reads alert history and noise from a real alerts service, and scaling decisions from a real scheduler, with the same numbers in the PDF', async () => {
    const pdf = join(collector.dir, 'alerts.pdf');
    await report(collector, ['--pdf', '--output', pdf, ...sources]);
    const text = await pdfText(pdf);
    const json = JSON.parse((await report(collector, ['--format', 'json', ...sources])).stdout) as ReportModel;

    // HighCpu 2 (its copies to the second receiver not counted again), DiskFilling 1, NoisyDisk 60; 30 min, 2 h and 60 × 5 min to resolve.
    expect(json.summary.alerts).toEqual({
      current: { fired: 63, resolved: 62, medianMinutesToResolve: 5, p90MinutesToResolve: 5, flaps: 60 },
      previous: { fired: 1, resolved: 1, medianMinutesToResolve: 120, p90MinutesToResolve: 120, flaps: 0 },
    });
    if (!json.alerts.available) throw new Error(`alerts not available: ${json.alerts.reason}`);
    expect(json.alerts.topRules.slice(0, 3).map((r) => [r.rule, r.fired, r.resolved, r.flaps, r.groups])).toEqual([
      ['NoisyDisk', 60, 60, 59, 1],
      ['HighCpu', 2, 2, 1, 1],
      ['DiskFilling', 1, 0, 0, 1],
    ]);
    expect(json.alerts.flapping[0]).toEqual({ rule: 'NoisyDisk', group: 'agent=db-1', flaps: 59, fired: 60 });
    expect(json.alerts.rows).toHaveLength(63);
    expect(json.alerts.atRead).toEqual({ firing: 0, pending: 0, flapping: 0 });
    expect(text).toMatch(/Alerts fired\s+63\s+1\s+\+62/);
    expect(text).toMatch(/Alert time to resolve \(median\)\s+5 min\s+2\.0 h\s+-1\.9 h/);
    expect(text).toMatch(/Alert flaps\s+60\s+0\s+\+60/);
    expect(text).toMatch(/NoisyDisk\s+60\s+60\s+59\s+1\s+5 min/);
    expect(text).toMatch(/NoisyDisk\s+agent=db-1\s+59\s+60/);
    // 63 rows: the alert history spans pages, each with its header.
    expect(text.match(/Fired\s+Resolved\s+Rule\s+Group\s+Time to resolve\s+Receiver/g)?.length ?? 0).toBeGreaterThanOrEqual(2);

    if (!json.scaling.available) throw new Error(`scaling not available: ${json.scaling.reason}`);
    expect(json.scaling.rows.map((r) => [r.target, r.action, r.previousReplicas, r.replicas, r.outcome])).toEqual([
      ['api', 'scale-out', 3, 5, 'acted'],
      ['web', 'scale-out', 2, 4, 'forecast-only'],
      ['api', 'scale-in', 5, 4, 'failed'],
    ]);
    expect(json.scaling.targets.map((t) => [t.target, t.mode, t.decisions, t.held, t.acted, t.forecastOnly, t.failed])).toEqual([
      ['api', 'act', 3, 1, 1, 0, 1],
      ['web', 'forecast-only', 1, 0, 0, 1, 0],
    ]);
    expect(text).toMatch(/api\s+scale-out 3 -> 5\s+180\.0\s+acted/);
    expect(text).toMatch(/web\s+scale-out 2 -> 4\s+180\.0\s+forecast-only/);
    expect(text).toMatch(/api\s+scale-in 5 -> 4\s+180\.0\s+failed\s+demand fell/);

    // Tasks created in the period (not tk-old): waits 4, 2 and 3 s to first placement; runs 60, 30, 10 and 20 s.
    if (!json.tasks.available) throw new Error(`tasks not available: ${json.tasks.reason}`);
    expect(json.tasks).toMatchObject({ tasks: 4, successRatePercent: 66.7, retries: 1, redeliveredRuns: 1, redeliveries: 1, waitToPlaceMillis: { median: 3_000, p95: 3_900, tasks: 3 }, runMillis: { median: 25_000, runs: 4 } });
    expect(json.tasks.states.filter((s) => s.tasks > 0)).toEqual([
      { state: 'succeeded', tasks: 2 },
      { state: 'failed', tasks: 1 },
      { state: 'waiting', tasks: 1 },
    ]);
    expect(json.tasks.agents).toEqual([
      { agentId: 'web-1', placements: 2, succeeded: 1, failed: 1 },
      { agentId: 'db-1', placements: 1, succeeded: 0, failed: 1 },
      { agentId: 'web-2', placements: 1, succeeded: 1, failed: 0 },
    ]);
    expect(json.tasks.failed).toEqual([{ id: 'tk-fail', createdAtMillis: endMillis - 6 * hourMillis, task: 'deploy [31mcanary[0m', agentId: 'db-1', reason: 'attempt 2 on db-1 failed: exit 2' }]);
    expect(json.tasks.waiting.map((w) => [w.id, w.state, w.reason])).toEqual([['tk-wait', 'waiting', 'no agent has room: 3 exhausted (memoryMb)']]);
    expect(text).toMatch(/Tasks created\s+4/);
    expect(text).toMatch(/Success rate % \(of succeeded and failed\)\s+66\.7/);
    expect(text).toMatch(/Wait to first placement, p95\s+3\.9 s/);
    expect(text).toMatch(/Run time, median\s+25\.0 s/);
    expect(text).toMatch(/web-1\s+2\s+1\s+1/);
    expect(text).toMatch(/tk-fail\s+deploy \[31mcanary\[0m\s+db-1\s+attempt 2 on db-1 failed: exit 2/);
    expect(text).toMatch(/tk-wait\s+playbook rebuild-index\s+waiting\s+no agent has room/);
    expect(text).not.toContain('Traceback');

    // Last period's warnings: web-2's data disk filled (hit), db-1's was cleaned (miss), web-1's root is due after this period (pending).
    const graded = new Map(json.diskPredictions.map((d) => [`${d.agentId} ${d.instance}`, d]));
    expect(graded.get('web-2 /data')?.outcome).toBe('hit');
    expect(graded.get('db-1 /var')?.outcome).toBe('miss');
    expect(graded.get('web-1 /')?.outcome).toBe('pending');
    expect(json.summary.diskPredictions).toEqual({ hit: 1, miss: 1, pending: 1, unwarned: 0 });
    expect(graded.get('web-2 /data')?.predictedDays).toBeCloseTo(0.25, 1);
    expect(Math.abs(graded.get('web-2 /data')?.errorDays ?? 9)).toBeLessThanOrEqual(0.1);
    // The pending one carries the capacity section's current figure.
    expect(graded.get('web-1 /')?.nowDaysUntilFull).toBe(json.capacity.find((c) => c.agentId === 'web-1' && c.instance === '/')?.daysUntilFull);
    for (const d of json.diskPredictions) expect(text).toMatch(new RegExp(`${d.agentId}\\s+${d.instance}\\s+${d.predictedDays?.toFixed(1) ?? 'x'}\\s+\\S+ \\S+\\s+${d.outcome}`));
    expect(text).toMatch(/Last period\u2019s disk-full warnings\s+1 hit, 1 missed, 1 pending; 0 unwarned fills/);
  }, 180_000);

  it('says why the scheduler and alerts sections are missing, without a secret', async () => {
    const rejected = JSON.parse((await report(collector, ['--format', 'json', ...sources, '--scheduler-token', 'wrong-scheduler-secret', '--alerts-token', 'wrong-alerts-secret'])).stdout) as ReportModel;
    expect(rejected.remediations).toEqual({ available: false, reason: `the scheduler at ${schedulerUrl} answered HTTP 401 (check --scheduler-token)` });
    expect(rejected.scaling).toEqual({ available: false, reason: `the scheduler at ${schedulerUrl} answered HTTP 401 (check --scheduler-token)` });
    expect(rejected.tasks).toEqual({ available: false, reason: `the scheduler at ${schedulerUrl} answered HTTP 401 (check --scheduler-token)` });
    expect(rejected.alerts).toEqual({ available: false, reason: `the alerts API at ${alertsUrl} answered HTTP 401 (check --alerts-token)` });
    expect(rejected.summary.alerts).toBeNull();

    const nobody = `http://127.0.0.1:${await freePort()}`;
    const gone = await report(collector, ['--format', 'md', '--scheduler', nobody]);
    expect(gone.stdout).toContain(`not available: the scheduler at ${nobody} did not answer (ECONNREFUSED)`);
    expect(gone.stdout).toContain('## Scaling decisions (changes and failures)');
    expect(gone.stdout).toContain(`## Tasks\n\n_not available: the scheduler at ${nobody} did not answer (ECONNREFUSED)_`);
    // A service URL carrying credentials is refused before anything is fetched, without repeating it.
    const withCredentials = await report(collector, ['--format', 'md', '--alerts-url', nobody.replace('http://', 'http://ops:url-secret-5@')]).catch((e: { code: number; stdout: string; stderr: string }) => e);
    expect('code' in withCredentials ? withCredentials.code : 0).not.toBe(0);
    expect(withCredentials.stderr).toContain('--alerts-url must not carry a user name or password (not shown)');
    expect(withCredentials.stdout).toBe('');
    const unreachable = await report(collector, ['--format', 'md', '--alerts-url', nobody]);
    expect(unreachable.stdout).toContain(`## Alert history\n\n_not available: the alerts API at ${nobody} did not answer (ECONNREFUSED)_`);
    expect(unreachable.stdout).toContain('| Alerts fired / resolved | not available: the alerts API at');
    for (const out of [gone, unreachable, withCredentials]) expect(out.stdout + out.stderr).not.toMatch(/secret/);
  }, 120_000);

  it('reads the token from --token-file and exits 3 on a wrong one without printing it', async () => {
    const file = join(collector.dir, 'token');
    writeFileSync(file, `${collector.token}\n`);
    const ok = await run(process.execPath, [cliPath, 'report', '--format', 'json', '--collector', collector.url, '--token-file', file, '--since', '24h', '--until', String(endMillis), '--alerts-url', noAlerts]);
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
    noAlerts = `http://127.0.0.1:${await freePort()}`;
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

  it('reads the notifications a real alerts service sent for alerts it took in, in the last hour', async () => {
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const token = 'alerts-live-secret-4e2b';
    const rules = join(collector.dir, 'alerts.yaml');
    // Notify at once and at every change, so one firing, resolution and re-firing each give one notification.
    writeFileSync(rules, JSON.stringify({ evaluation_interval: '1s', route: { receiver: 'team', group_by: ['alertname', 'agent'], group_wait: '0s', group_interval: '1s', repeat_interval: '4h' }, receivers: [{ name: 'team' }] }));
    const service = await startRole(
      ['alerts', '--port', String(port), '--metrics-port', '0', '--host', '127.0.0.1', '--redis-url', collector.redis.url, '--redis-prefix', `${collector.redisPrefix}live`, '--data-dir', join(collector.dir, 'alerts'), '--rules', rules, '--token', token, '--collector', collector.url, '--log-level', 'warn'],
      port,
    );
    try {
      const auth = { authorization: `Bearer ${token}` };
      const post = async (status: 'firing' | 'resolved'): Promise<void> => {
        const at = new Date().toISOString();
        const alert = { status, labels: { alertname: 'DiskAlmostFull', agent: 'db-7' }, startsAt: at, ...(status === 'resolved' ? { endsAt: at } : {}) };
        const response = await fetch(`${url}/api/v1/intake/alertmanager`, { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: JSON.stringify({ version: '4', status, alerts: [alert] }) });
        expect(response.status).toBe(200);
      };
      const notified = async (count: number): Promise<void> => {
        for (let i = 0; i < 300; i++) {
          const body = (await (await fetch(`${url}/api/v1/history?limit=10`, { headers: auth })).json()) as { notifications: unknown[] };
          if (body.notifications.length >= count) return;
          await new Promise((r) => setTimeout(r, 100));
        }
        throw new Error(`the alerts service did not send notification ${count}`);
      };
      await post('firing');
      await notified(1);
      await post('resolved');
      await notified(2);
      await post('firing');
      await notified(3);
      const json = JSON.parse((await run(process.execPath, [cliPath, 'report', '--format', 'json', '--collector', collector.url, '--token', collector.token, '--since', '1h', '--alerts-url', url, '--alerts-token', token])).stdout) as ReportModel;
      expect(json.summary.alerts?.current).toMatchObject({ fired: 2, resolved: 1, flaps: 1 });
      if (!json.alerts.available) throw new Error(json.alerts.reason);
      expect(json.alerts.rows.map((r) => [r.rule, r.group, r.receiver, r.resolvedAtMillis === null])).toEqual([
        ['DiskAlmostFull', 'agent=db-7', 'team', false],
        ['DiskAlmostFull', 'agent=db-7', 'team', true],
      ]);
      expect(json.alerts.atRead).toEqual({ firing: 1, pending: 0, flapping: 0 });
    } finally {
      await stopRole(service);
    }
  }, 120_000);
});
