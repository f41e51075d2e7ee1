/**
 * The remediation loop end to end, with real processes: Redis, `sloth
 * scheduler`, `sloth remediation worker` (the agent's job worker with the Lua
 * runtime), anomalies and events injected with XADD, and the CLI. Needs the
 * built CLI (`npx tsc -b`).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { encodeJsonMessage, ensureJobSigningKey, freePort, redisKeys, RedisServer, remediationReportSchema, remediationResultsStream, type AnomalyEvent } from '@sloth/core';

const repoRoot = fileURLToPath(new URL('..', import.meta.url));
const cli = join(repoRoot, 'cli', 'dist', 'src', 'main.js');

const playbooks: Record<string, string> = {
  'cpu-collect.lua': `
return {
  name = "cpu-collect",
  version = "2.1.0",
  description = "record metrics when CPU is anomalous",
  triggers = { { anomaly = { metric = "system.cpu.utilization", min_score = 0.9 } } },
  run = function(ctx)
    metrics.gauge("task_duration", 45.2)
    metrics.counter("deployments_total", 1)
    state.incr("cpu_collect_runs", 1)
    log.info("cpu anomaly handled", { agent = ctx.event.agentId, value = ctx.event.value })
    return true, "Metrics collected successfully"
  end,
}`,
  'drain.lua': `
return {
  name = "drain-nginx",
  version = "1.0.0",
  description = "needs a human",
  requires_approval = true,
  triggers = { { event = { type = "health_check", check = "nginx", state = "unhealthy" } } },
  run = function(ctx)
    log.warn("draining", { check = ctx.event.attributes.check })
    return true, "drained " .. ctx.event.agentId
  end,
}`,
  'slow.lua': `
return {
  name = "slow-fix",
  version = "1.0.0",
  description = "takes a while",
  timeout = 60,
  triggers = { { anomaly = { metric = "app.queue.depth", min_score = 0.5 } } },
  run = function(ctx)
    state.incr("slow_fix_started", 1)
    sleep(6000)
    return true, "slow fix done"
  end,
}`,
};

interface Proc {
  child: ChildProcess;
  output: () => string;
}

function start(args: string[], ready: string, env: Record<string, string> = {}): Promise<Proc> {
  const child = spawn(process.execPath, [cli, ...args], { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`process did not print "${ready}" within 30 s:\n${output}`)), 30_000);
    const check = (): void => {
      if (output.includes(ready)) {
        clearTimeout(timer);
        resolve({ child, output: () => output });
      }
    };
    child.stdout?.on('data', check);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`process exited (${code}) before "${ready}":\n${output}`));
    });
  });
}

function run(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [cli, ...args], { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.once('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

async function stop(proc: Proc | undefined): Promise<void> {
  if (proc === undefined || proc.child.exitCode !== null || proc.child.signalCode !== null) return;
  const exited = new Promise((r) => proc.child.once('exit', r));
  proc.child.kill('SIGTERM');
  const timer = setTimeout(() => proc.child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}

async function eventually<T>(check: () => Promise<T | undefined>, what: string, timeoutMillis = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMillis;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

interface Record_ {
  id: string;
  state: string;
  playbook: string;
  playbookVersion: string;
  agentId: string;
  attempts: number;
  approvedBy: string | null;
  rejectedBy: string | null;
  reason: string | null;
  message: string | null;
  ok: boolean | null;
  durationMillis: number | null;
  startedAtMillis: number | null;
  output: { logs: Array<{ message: string }> } | null;
}

let dir: string;
let redisServer: RedisServer;
let redis: Redis;
let prefix: string;
let apiUrl: string;
let scheduler: Proc | undefined;
let worker: Proc | undefined;
let collector: Proc | undefined;
let collectorUrl: string;
/** The job-signing key both sides hold: the scheduler signs every job, the worker runs only signed ones. */
let keyFile: string;

async function list(query = ''): Promise<Record_[]> {
  const response = await fetch(`${apiUrl}/api/v1/remediations${query}`);
  return ((await response.json()) as { remediations: Record_[] }).remediations;
}

function anomaly(agentId: string, metric: string, score: number): AnomalyEvent {
  return { seriesId: `${metric}{}`, agentId, metric, timestampMillis: Date.now(), value: 97.5, score, expectedLow: 0, expectedHigh: 60, modelVersion: 'e2e' };
}

function startWorker(): Promise<Proc> {
  return start(
    [
      'remediation', 'worker', '--agent-id', 'web-1', '--redis-url', redisServer.url, '--redis-prefix', prefix, '--state-dir', join(dir, 'agent-state'),
      '--lock-duration-ms', '5000', '--stalled-interval-ms', '1000', '--collector', collectorUrl, '--job-signing-key-file', keyFile, '--log-level', 'warn',
    ],
    'serving queue',
  );
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sloth-remediation-e2e-'));
  redisServer = await RedisServer.start({ dir: join(dir, 'redis'), appendOnly: false });
  redis = new Redis(redisServer.url);
  prefix = `e2e${Math.random().toString(36).slice(2, 8)}`;
  keyFile = ensureJobSigningKey(dir).path;
  const playbookDir = join(dir, 'playbooks');
  mkdirSync(playbookDir);
  for (const [name, source] of Object.entries(playbooks)) writeFileSync(join(playbookDir, name), source);
  const collectorPort = await freePort();
  collectorUrl = `http://127.0.0.1:${collectorPort}`;
  collector = await start(
    [
      'collector', '--port', String(collectorPort), '--host', '127.0.0.1', '--metrics-port', String(await freePort()), '--data-dir', join(dir, 'collector-data'),
      '--redis-url', redisServer.url, '--redis-prefix', prefix, '--insecure-no-auth', '--log-level', 'warn',
    ],
    'OTLP/HTTP on',
  );
  const port = await freePort();
  apiUrl = `http://127.0.0.1:${port}`;
  scheduler = await start(
    ['scheduler', '--port', String(port), '--host', '127.0.0.1', '--playbooks', playbookDir, '--data-dir', join(dir, 'data'), '--redis-url', redisServer.url, '--redis-prefix', prefix, '--insecure-no-auth', '--cooldown', '600', '--log-level', 'warn'],
    'remediation API on',
    { SLOTH_JOB_SIGNING_KEY_FILE: keyFile },
  );
  worker = await startWorker();
});

afterAll(async () => {
  await stop(worker);
  await stop(scheduler);
  await stop(collector);
  redis?.disconnect();
  await redisServer?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('remediation loop end to end', () => {
  it('the scheduler prints what it loaded and where it listens', () => {
    const out = scheduler!.output();
    expect(out).toContain(`remediation API on ${apiUrl}/api/v1/remediations`);
    expect(out).toContain('cpu-collect@2.1.0');
    expect(out).toContain('drain-nginx@1.0.0 (approval)');
    // Both sides hold the key: neither warns that jobs go unsigned or that any Redis writer can run playbooks.
    expect(out).not.toContain('no job-signing key');
    expect(worker!.output()).not.toContain('no job-signing key');
  });

  it('an anomaly runs the matching playbook on the affected agent once; a second one inside the cooldown is skipped', async () => {
    const keys = redisKeys(prefix);
    await redis.xadd(keys.anomalies, '*', ...encodeJsonMessage(anomaly('web-1', 'system.cpu.utilization', 0.97)));
    const done = await eventually(async () => (await list('?playbook=cpu-collect')).find((r) => r.state === 'succeeded' || r.state === 'failed'), 'cpu-collect result');
    expect(done).toMatchObject({ state: 'succeeded', agentId: 'web-1', playbookVersion: '2.1.0', ok: true, message: 'Metrics collected successfully', attempts: 1 });
    expect(done.output?.logs.map((l) => l.message)).toContain('cpu anomaly handled');

    await redis.xadd(keys.anomalies, '*', ...encodeJsonMessage(anomaly('web-1', 'system.cpu.utilization', 0.99)));
    const skipped = await eventually(async () => (await list('?playbook=cpu-collect')).find((r) => r.state === 'skipped_cooldown'), 'skipped record');
    expect(skipped.agentId).toBe('web-1');
    await new Promise((r) => setTimeout(r, 1000));
    const all = await list('?playbook=cpu-collect');
    expect(all.map((r) => r.state).sort()).toEqual(['skipped_cooldown', 'succeeded']);

    // The run's span and log records reached the collector, from the agent that ran it.
    const span = await eventually(async () => {
      const body = (await (await fetch(`${collectorUrl}/api/v1/spans?name=${encodeURIComponent('playbook cpu-collect')}`)).json()) as { spans: Array<{ agentId: string; attributes: Record<string, unknown> }> };
      return body.spans[0];
    }, 'playbook span in the collector');
    expect(span.agentId).toBe('web-1');
    expect(span.attributes['sloth.remediation.id']).toBe(done.id);
    const log = await eventually(async () => {
      const body = (await (await fetch(`${collectorUrl}/api/v1/logs?contains=${encodeURIComponent('cpu anomaly handled')}`)).json()) as { logs: Array<{ agentId: string; body: string }> };
      return body.logs[0];
    }, 'playbook log record in the collector');
    expect(log.agentId).toBe('web-1');

    const shown = await run(['remediation', 'show', done.id, '--scheduler', apiUrl]);
    expect(shown.code).toBe(0);
    expect(shown.stdout).toContain('cpu-collect@2.1.0');
    expect(shown.stdout).toContain('Metrics collected successfully');
    const listed = await run(['remediation', 'list', '--scheduler', apiUrl, '--playbook', 'cpu-collect']);
    expect(listed.stdout).toContain(done.id);
    expect(listed.stdout).toContain('skipped_cooldown');
  });

  it('an approval-gated playbook waits, then runs after `sloth remediation approve`', async () => {
    const keys = redisKeys(prefix);
    const event = { type: 'health_check', agentId: 'web-1', timestampMillis: Date.now(), attributes: { check: 'nginx', state: 'unhealthy' } };
    await redis.xadd(keys.events, '*', ...encodeJsonMessage(event));
    const pending = await eventually(async () => (await list('?playbook=drain-nginx'))[0], 'pending record');
    expect(pending.state).toBe('pending_approval');
    await new Promise((r) => setTimeout(r, 1500));
    expect((await list('?playbook=drain-nginx'))[0]?.state).toBe('pending_approval');

    const approved = await run(['remediation', 'approve', pending.id, '--by', 'alice', '--scheduler', apiUrl]);
    expect(approved.code).toBe(0);
    expect(approved.stdout).toContain(`approved ${pending.id}`);
    const done = await eventually(async () => {
      const r = (await list('?playbook=drain-nginx'))[0];
      return r?.state === 'succeeded' || r?.state === 'failed' ? r : undefined;
    }, 'approved run');
    expect(done).toMatchObject({ state: 'succeeded', approvedBy: 'alice', message: 'drained web-1' });

    const again = await run(['remediation', 'approve', pending.id, '--scheduler', apiUrl]);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('SLOTH_ERR_CONFLICT');

    // `sloth remediation reject`: the gated playbook for another agent never runs.
    await redis.xadd(keys.events, '*', ...encodeJsonMessage({ ...event, agentId: 'web-2' }));
    const other = await eventually(async () => (await list('?agent=web-2'))[0], 'pending record for web-2');
    const rejected = await run(['remediation', 'reject', other.id, '--reason', 'maintenance window', '--by', 'bob', '--scheduler', apiUrl]);
    expect(rejected.code).toBe(0);
    expect(rejected.stdout).toContain(`rejected ${other.id}`);
    const record = (await list('?agent=web-2'))[0];
    expect(record).toMatchObject({ state: 'rejected', rejectedBy: 'bob', reason: 'maintenance window', startedAtMillis: null });
  });

  it('the CLI names unknown ids and unreachable schedulers', async () => {
    const missing = await run(['remediation', 'show', 'r-does-not-exist', '--scheduler', apiUrl]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('SLOTH_ERR_NOT_FOUND');
    expect(missing.stderr).toContain('r-does-not-exist');
    const deadPort = await freePort();
    const unreachable = await run(['remediation', 'list', '--scheduler', `http://127.0.0.1:${deadPort}`]);
    expect(unreachable.code).toBe(1);
    expect(unreachable.stderr).toContain(`http://127.0.0.1:${deadPort}`);
    expect(unreachable.stderr).toContain('SLOTH_ERR_UNREACHABLE');
  });

  it('a worker killed mid-playbook: the job reruns on restart and exactly one result is recorded', async () => {
    const keys = redisKeys(prefix);
    await redis.xadd(keys.anomalies, '*', ...encodeJsonMessage(anomaly('web-1', 'app.queue.depth', 0.8)));
    const running = await eventually(async () => (await list('?playbook=slow-fix')).find((r) => r.state === 'running'), 'slow-fix running');
    worker!.child.kill('SIGKILL');
    await new Promise((r) => worker!.child.once('exit', r));
    await new Promise((r) => setTimeout(r, 500));
    expect((await list('?playbook=slow-fix'))[0]?.state).toBe('running');
    worker = await startWorker();
    const done = await eventually(async () => {
      const r = (await list('?playbook=slow-fix')).find((x) => x.id === running.id);
      return r?.state === 'succeeded' || r?.state === 'failed' ? r : undefined;
    }, 'slow-fix rerun result', 60_000);
    expect(done).toMatchObject({ state: 'succeeded', message: 'slow fix done', attempts: 2 });
    await new Promise((r) => setTimeout(r, 1500));
    const entries = (await redis.xrange(remediationResultsStream(keys), '-', '+')) as Array<[string, string[]]>;
    const reports = entries.map(([, f]) => remediationReportSchema.parse(JSON.parse(f[1]!))).filter((r) => r.remediationId === running.id);
    expect(reports.filter((r) => r.state !== 'running')).toHaveLength(1);
    expect(reports.filter((r) => r.state === 'running').map((r) => r.attempt)).toEqual([1, 2]);
    expect(await list('?playbook=slow-fix')).toHaveLength(1);
  });

  it('SIGTERM stops the scheduler and the worker cleanly', async () => {
    for (const proc of [worker!, scheduler!]) {
      const exited = new Promise<number | null>((r) => proc.child.once('exit', (code) => r(code)));
      proc.child.kill('SIGTERM');
      expect(await exited).toBe(0);
    }
    expect(scheduler!.output()).toContain('sloth scheduler: stopped');
    expect(worker!.output()).toContain('sloth remediation worker: stopped');
  });
});
