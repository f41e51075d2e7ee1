/**
 * `sloth up` end to end: one process runs the collector, a local agent,
 * analytics and the scheduler against a private Redis; the local agent's
 * telemetry arrives through the collector; Ctrl-C (SIGINT) stops it cleanly.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeFileSync, mkdirSync } from 'node:fs';
import { Redis } from 'ioredis';
import { encodeJsonMessage, freePort, redisKeys, RedisServer, sleep, type AnomalyEvent } from '@sloth/core';
import { cliPath, SlothProcess } from './helpers/agent-processes.js';

describe('sloth up', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sloth-up-'));
  let redis: RedisServer;
  let up: SlothProcess | undefined;

  beforeAll(async () => {
    redis = await RedisServer.start({ dir: join(dir, 'redis'), appendOnly: false });
  });
  afterAll(async () => {
    if (up?.running === true) await up.stop('SIGKILL');
    await redis.stop();
  });

  it('documents a port flag for every role in --help', () => {
    const help = execFileSync(process.execPath, [cliPath, 'up', '--help'], { encoding: 'utf8' });
    for (const flag of ['--collector-port', '--metrics-port', '--scheduler-port', '--scheduler-metrics-port', '--alerts-port', '--alerts-metrics-port', '--agent-metrics-port', '--analytics-metrics-port']) {
      expect(help).toMatch(new RegExp(`^  ${flag} <port>`, 'm'));
    }
  });

  it('runs every role in one process, ingests the local agent and stops on SIGINT', async () => {
    const [collectorPort, metricsPort, schedulerPort, analyticsPort, schedulerMetricsPort, alertsPort, alertsMetricsPort] = await Promise.all(
      Array.from({ length: 7 }, () => freePort()),
    );
    const dataDir = join(dir, 'data');
    const playbooks = join(dir, 'playbooks');
    mkdirSync(playbooks, { recursive: true });
    writeFileSync(join(playbooks, 'note.lua'), `
return {
  name = "note-anomaly",
  version = "1.2.0",
  description = "records that the local agent ran it",
  triggers = { { anomaly = { metric = "app.latency", min_score = 0.8 } } },
  run = function(ctx)
    state.incr("runs", 1)
    log.info("handled", { value = ctx.event.value })
    return true, "noted " .. ctx.event.metric
  end,
}`);
    up = SlothProcess.spawn([
      'up', '--data-dir', dataDir, '--redis-url', redis.url, '--redis-prefix', 'uptest',
      '--collector-port', String(collectorPort), '--metrics-port', String(metricsPort), '--scheduler-port', String(schedulerPort),
      '--analytics-metrics-port', String(analyticsPort), '--agent-metrics-port', '0', '--interval', '1', '--playbooks', playbooks,
      '--scheduler-metrics-port', String(schedulerMetricsPort), '--alerts-port', String(alertsPort), '--alerts-metrics-port', String(alertsMetricsPort),
      '--allow-exec', 'ps', '--allow-exec', 'df', '--allow-task-exec', 'ps',
    ]);
    await up.waitForOutput(/Ctrl-C stops everything/, 60_000);
    expect(up.stdout).toContain(`http://127.0.0.1:${collectorPort}/v1/{metrics,traces,logs}`);
    expect(up.stdout).toContain(`http://127.0.0.1:${schedulerPort}/api/v1/remediations`);
    // Every role's port is the one given on the command line, and serves there.
    expect(up.stdout).toContain(`Prometheus http://127.0.0.1:${schedulerMetricsPort}/metrics`);
    expect(up.stdout).toContain(`:${alertsPort}/api/v1/alerts`);
    expect(up.stdout).toContain(`Prometheus http://127.0.0.1:${alertsMetricsPort}/metrics`);
    for (const port of [schedulerMetricsPort, alertsMetricsPort]) {
      const res = await fetch(`http://127.0.0.1:${port}/metrics`);
      expect(res.status).toBe(200);
      expect(await res.text()).toMatch(/^sloth_\w+/m);
    }

    // The generated token is private to the data dir and never printed.
    const tokenFile = join(dataDir, 'up-token');
    const token = readFileSync(tokenFile, 'utf8').trim();
    expect(statSync(tokenFile).mode & 0o777).toBe(0o600);
    expect(up.stdout + up.stderr).not.toContain(token);
    // Redis' password (RedisServer demands one) reaches every role through the URL, and is never printed.
    const redisPassword = new URL(redis.url).password;
    expect(redisPassword).toMatch(/^[0-9a-f]{64}$/);
    expect(up.stdout).toMatch(/^ *redis +redis:\/\/:\*\*\*@127\.0\.0\.1:\d+ \(configured\)$/m);
    expect(up.stdout + up.stderr).not.toContain(redisPassword);
    // A password in the URL: no warning that every local user can reach it.
    expect(up.stderr).not.toContain('has no password in its URL');
    // A job-signing key per data dir, private, never printed; the scheduler signs and the local agent checks
    // (neither warns that jobs go unsigned), so the remediation below ran as a signed job.
    const keyFile = join(dataDir, 'job-signing.key');
    const signingKey = readFileSync(keyFile, 'utf8').trim();
    expect(signingKey).toMatch(/^[0-9a-f]{64}$/);
    expect(statSync(keyFile).mode & 0o777).toBe(0o600);
    expect(up.stdout).toContain(`key in ${keyFile}`);
    expect(up.stdout + up.stderr).not.toContain(signingKey);
    expect(up.stderr).not.toContain('no job-signing key');

    const headers = { authorization: `Bearer ${token}` };
    let agents: Array<{ id: string; state: string }> = [];
    for (let i = 0; i < 60 && agents.length === 0; i += 1) {
      await sleep(500);
      const res = await fetch(`http://127.0.0.1:${collectorPort}/api/v1/agents`, { headers });
      expect(res.status).toBe(200);
      agents = ((await res.json()) as { agents: typeof agents }).agents;
    }
    expect(agents).toHaveLength(1);
    expect(agents[0]?.state).toBe('up');
    expect((await fetch(`http://127.0.0.1:${collectorPort}/api/v1/agents`)).status).toBe(401);

    // The agent is registered by whichever of its exports arrives first (logs, say); its metrics follow within an interval.
    let exposition = '';
    for (let i = 0; i < 20 && !/^system_memory_usage_bytes\{/m.test(exposition); i += 1) {
      if (i > 0) await sleep(250);
      exposition = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
    }
    expect(exposition).toMatch(/^system_memory_usage_bytes\{/m);
    const remediations = await fetch(`http://127.0.0.1:${schedulerPort}/api/v1/remediations`, { headers });
    expect(remediations.status).toBe(200);

    expect(up.stdout).toMatch(/runs remediations from queue agent\.\S+; playbooks may run ps, df; tasks may run ps$/m);

    // `sloth status` finds the generated token in the data dir by itself.
    const status = execFileSync(process.execPath, [cliPath, 'status', '--collector', `http://127.0.0.1:${collectorPort}`, '--data-dir', dataDir], { encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
    expect(status).toMatch(new RegExp(`^${agents[0]?.id ?? 'missing'}\\s+up\\s`, 'm'));

    // The remediation loop inside one process: anomaly → scheduler → local agent → audit record.
    const agentId = agents[0]?.id ?? '';
    const anomaly: AnomalyEvent = {
      seriesId: `app.latency{agent="${agentId}"}`, agentId, metric: 'app.latency', timestampMillis: Date.now(),
      value: 950, score: 0.97, expectedLow: 100, expectedHigh: 200, modelVersion: 'test',
    };
    const client = new Redis(redis.url);
    await client.xadd(redisKeys('uptest').anomalies, '*', ...encodeJsonMessage(anomaly));
    client.disconnect();
    let records: Array<{ state: string; playbook: string; agentId: string; message: string | null }> = [];
    for (let i = 0; i < 60 && records[0]?.state !== 'succeeded'; i += 1) {
      await sleep(500);
      const res = await fetch(`http://127.0.0.1:${schedulerPort}/api/v1/remediations`, { headers });
      records = ((await res.json()) as { remediations: typeof records }).remediations;
    }
    expect(records).toHaveLength(1);
    expect(records[0]).toMatchObject({ state: 'succeeded', playbook: 'note-anomaly', agentId, message: 'noted app.latency' });

    // `sloth report` with only --data-dir finds every source of the running stack: its collector (on a
    // non-default port), the scheduler's remediation log, the alerts API and the incidents' Redis.
    const endpointsFile = join(dataDir, 'up-endpoints.json');
    expect(statSync(endpointsFile).mode & 0o777).toBe(0o600);
    expect(readFileSync(endpointsFile, 'utf8')).not.toContain(token);
    const reportJson = execFileSync(process.execPath, [cliPath, 'report', '--format', 'json', '--data-dir', dataDir], { encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
    const model = JSON.parse(reportJson) as { collector: string; remediations: { available: boolean; rows?: Array<{ playbook: string }> }; incidents: { available: boolean }; alerts: { available: boolean } };
    expect(model.collector).toBe(`http://127.0.0.1:${collectorPort}`);
    expect(model.remediations.available).toBe(true);
    expect(model.remediations.rows?.map((r) => r.playbook)).toEqual(['note-anomaly']);
    expect(model.incidents.available).toBe(true);
    expect(model.alerts.available).toBe(true);
    expect(reportJson).not.toContain(token);
    expect(reportJson).not.toContain(redisPassword);
    // So do the other local commands, with neither a URL nor a token on the command line.
    const local = (args: string[]): string => execFileSync(process.execPath, [cliPath, ...args, '--data-dir', dataDir], { encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
    expect(local(['status'])).toMatch(new RegExp(`^${agentId}\\s+up\\s`, 'm'));
    expect((JSON.parse(local(['remediation', 'list', '--json'])) as Array<{ playbook: string }>).map((r) => r.playbook)).toEqual(['note-anomaly']);
    // A command task whose arguments start with "-" goes after --; --allow-exec allows it as a task too.
    const submitted = execFileSync(process.execPath, [cliPath, 'task', 'submit', '--data-dir', dataDir, '--cpu', '0.1', '--memory-mb', '16', '--json', '--', 'ps', '-eo', 'pid,comm'], { encoding: 'utf8' });
    const taskId = (JSON.parse(submitted) as { id: string; spec: { command: string[] } }).id;
    expect((JSON.parse(submitted) as { spec: { command: string[] } }).spec.command).toEqual(['ps', '-eo', 'pid,comm']);
    let task: { state: string; reason: string | null } = { state: 'queued', reason: null };
    for (let i = 0; i < 60 && !['succeeded', 'failed'].includes(task.state); i += 1) {
      await sleep(500);
      task = JSON.parse(local(['task', 'show', taskId, '--json'])) as typeof task;
    }
    expect(task).toMatchObject({ state: 'succeeded', reason: 'exit code 0' });
    // What the command printed is shown with the attempt.
    const shown = local(['task', 'show', taskId]);
    expect(shown).toMatch(/^attempt 1: \S+ succeeded \(exit code 0\) placed /m);
    expect(shown).toMatch(/^ {2}stdout:$/m);
    expect(shown).toMatch(/^ {2}\s*\d+ \S+$/m); // a "pid comm" line of ps's output (its end: the start is cut to 2,000 bytes)
    // --allow-exec opens a binary to reviewed playbooks, not to tasks: df is refused as a task.
    const notTask = spawnSync(process.execPath, [cliPath, 'task', 'submit', '--data-dir', dataDir, '--cpu', '0.1', '--memory-mb', '16', '--', 'df', '-h'], { encoding: 'utf8' });
    expect(notTask.status).toBe(1);
    expect(notTask.stderr).toContain(`command "df" is not on the scheduler's task allow-list (ps)`);
    // A task nothing can take: submit says why it waits, not just "queued".
    const waits = spawnSync(process.execPath, [cliPath, 'task', 'submit', '--data-dir', dataDir, '--cpu', '0.1', '--memory-mb', '16', '--constraint', 'zone=nowhere', '--', 'ps'], { encoding: 'utf8' });
    expect(waits.status).toBe(0);
    expect(waits.stdout).toMatch(/^task-\S+ waiting: .*constraint/m);
    // A playbook task's parameters are checked against the playbook at submit, not on the agent later.
    const refused = spawnSync(process.execPath, [cliPath, 'task', 'submit', '--data-dir', dataDir, '--playbook', 'note-anomaly', '--param', 'foo=bar', '--cpu', '0.1', '--memory-mb', '16'], { encoding: 'utf8' });
    expect(refused.status).toBe(1);
    expect(refused.stderr).toContain("invalid task: playbook note-anomaly: param 'foo' is not declared by playbook 'note-anomaly' (declared: none)");
    // No alerts file here: the rules shipped with Sloth run (a busy machine may have one pending).
    expect(up.stdout).toMatch(/alerts .* \d+ rule\(s\) from \S+deploy\/alerts\/alerts\.yaml \(shipped with Sloth/);
    expect(Array.isArray((JSON.parse(local(['alerts', 'list', '--json'])) as { alerts: unknown }).alerts)).toBe(true);

    expect(await up.stop('SIGINT')).toBe(0);
    expect(up.stdout).toContain('sloth up: stopped');
    expect(up.stdout + up.stderr).not.toContain(redisPassword);
    // Gone with the stack: a later report does not chase services that stopped.
    expect(() => statSync(endpointsFile)).toThrow(/ENOENT/);
  });

  it('stops on Ctrl-C even when its Redis died first, each role bounded by --stop-timeout', async () => {
    const lost = await RedisServer.start({ dir: join(dir, 'redis-lost'), appendOnly: false });
    mkdirSync(join(dir, 'no-playbooks'), { recursive: true });
    const [collectorPort, metricsPort, schedulerPort, alertsPort] = await Promise.all(Array.from({ length: 4 }, () => freePort()));
    up = SlothProcess.spawn([
      'up', '--data-dir', join(dir, 'data-lost'), '--redis-url', lost.url, '--redis-prefix', 'uplost',
      '--collector-port', String(collectorPort), '--metrics-port', String(metricsPort), '--scheduler-port', String(schedulerPort),
      '--alerts-port', String(alertsPort), '--analytics-metrics-port', '0', '--agent-metrics-port', '0', '--scheduler-metrics-port', '0',
      '--alerts-metrics-port', '0', '--interval', '1', '--playbooks', join(dir, 'no-playbooks'), '--stop-timeout', '3',
    ]);
    await up.waitForOutput(/Ctrl-C stops everything/, 60_000);
    await sleep(2_000);
    lost.kill();
    await sleep(1_000);
    const started = Date.now();
    const code = await up.stop('SIGINT');
    // Five roles at most 3 s each, plus the collector's own flush: far below what a hung stop would take.
    expect(Date.now() - started).toBeLessThan(60_000);
    expect(up.stdout).toMatch(/sloth up: stopped/);
    expect([0, 1]).toContain(code);
    if (code === 1) expect(up.stdout).toMatch(/not cleanly: /);
  }, 120_000);
});
