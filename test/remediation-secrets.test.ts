/**
 * Secrets in a playbook's parameters (a Slack webhook URL, whose path is its token, and an API token)
 * never reach the remediation audit log, Redis's result and event streams, the API or `sloth
 * remediation`: the scheduler and a real agent job worker (real Lua runtime) in one process, a real
 * redis-server, the built CLI (`npx tsc -b`).
 */
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { loadPlaybookDirectory, startRemediationWorker, type RemediationWorker } from '@sloth/agent';
import { encodeJsonMessage, freePort, queueNames, redisKeys, RedisServer, silentLogger } from '@sloth/core';
import { loadSchedulerConfig, Scheduler, type RemediationRecord } from '@sloth/scheduler';

const cli = join(fileURLToPath(new URL('..', import.meta.url)), 'cli', 'dist', 'src', 'main.js');
const webhook = 'https://hooks.slack.com/services/T0SECRET1/B0SECRET2/abcdefghijklmnopqrstuvwx';
const apiToken = 'tok-live-7f3a9c2e5b1d';
const secrets = ['T0SECRET1', 'B0SECRET2', 'abcdefghijklmnopqrstuvwx', apiToken];
const schedulerToken = 'sched-secrets-test-token';
const prefix = 'secrets';

const playbook = `
return {
  name = "notify-slack",
  version = "1.0.0",
  description = "posts to a Slack webhook",
  params = { webhook_url = { type = "string" }, api_token = { type = "string", required = true } },
  triggers = { { event = { type = "deploy_failed" } } },
  run = function(ctx)
    log.info("posting to " .. ctx.params.webhook_url, { hook = ctx.params.webhook_url, token = ctx.params.api_token, path = string.sub(ctx.params.webhook_url, 24) })
    return false, "could not post to " .. ctx.params.webhook_url .. " with " .. ctx.params.api_token
  end,
}`;

let dir: string;
let server: RedisServer;
let redis: Redis;
let scheduler: Scheduler;
let worker: RemediationWorker;
let record: RemediationRecord;
/** The event entry this test wrote: the input, where the webhook URL came from. */
let injected: string | null;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sloth-secrets-'));
  server = await RedisServer.start({ dir: join(dir, 'redis'), appendOnly: false });
  redis = new Redis(server.url);
  const playbooks = join(dir, 'playbooks');
  mkdirSync(playbooks);
  writeFileSync(join(playbooks, 'notify.lua'), playbook);
  const config = loadSchedulerConfig({
    env: {},
    flags: { dataDir: join(dir, 'data'), redisPrefix: prefix, port: await freePort(), host: '127.0.0.1', tokens: [schedulerToken], playbooks, playbookParams: { 'notify-slack': { api_token: apiToken } } },
  });
  scheduler = new Scheduler({ config, redisUrl: server.url, loadPlaybooks: loadPlaybookDirectory, logger: silentLogger(), tickMillis: 100 });
  await scheduler.start();
  worker = await startRemediationWorker({ agentId: 'web-1', redisUrl: server.url, prefix, stateDir: join(dir, 'state') });
  // The webhook comes with the event (an attribute named like the parameter), the token from the scheduler's configuration.
  injected = await redis.xadd(`${prefix}:events`, '*', ...encodeJsonMessage({ type: 'deploy_failed', agentId: 'web-1', timestampMillis: Date.now(), attributes: { webhook_url: webhook } }));
  const deadline = Date.now() + 30_000;
  for (;;) {
    const done = scheduler.auditStore.list().find((r) => r.state === 'failed' || r.state === 'succeeded');
    if (done !== undefined) {
      record = done;
      break;
    }
    if (Date.now() > deadline) throw new Error(`the remediation did not finish: ${JSON.stringify(scheduler.auditStore.list())}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}, 60_000);

afterAll(async () => {
  await worker?.shutdown();
  await scheduler?.shutdown();
  redis?.disconnect();
  await server?.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** Runs the CLI without blocking this process (the scheduler it talks to lives here). */
function sloth(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [cli, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.once('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

function expectNoSecret(text: string, where: string): void {
  for (const secret of secrets) expect(text.includes(secret), `${where} shows ${secret}:\n${text.slice(0, 2000)}`).toBe(false);
}

describe('secrets in playbook parameters', () => {
  it('the run got them as given, and the audit record shows them masked', () => {
    expect(record).toMatchObject({ playbook: 'notify-slack', state: 'failed', params: { webhook_url: 'https://hooks.slack.com/…', api_token: '***' } });
    // The params' values are masked wherever the playbook quotes them.
    expect(record.message).toBe('could not post to *** with ***');
    expect((record.trigger as { attributes: Record<string, unknown> }).attributes.webhook_url).toBe('https://hooks.slack.com/…');
    expectNoSecret(JSON.stringify(record), 'the audit record');
  });

  it('are in no column of the audit store', () => {
    const db = new Database(join(dir, 'data', 'scheduler', 'remediations.db'), { readonly: true });
    try {
      const rows = db.prepare('SELECT * FROM remediations').all();
      expect(rows).toHaveLength(1);
      expectNoSecret(JSON.stringify(rows), 'the remediations table');
    } finally {
      db.close();
    }
  });

  it('are in no Redis key but the job itself (the queue carries what the playbook needs)', async () => {
    const job = `${redisKeys(prefix).queuePrefix}:${queueNames.agent('web-1')}:${record.id}`;
    const keys = await redis.keys('*');
    expect(keys).toContain(job);
    let scanned = 0;
    for (const key of keys) {
      const type = await redis.type(key);
      let text: string;
      if (type === 'string') text = (await redis.get(key)) ?? '';
      else if (type === 'stream') text = JSON.stringify((await redis.xrange(key, '-', '+')).filter(([id]) => id !== injected));
      else if (type === 'hash') {
        const fields = await redis.hgetall(key);
        if (key === job) delete fields.data;
        text = JSON.stringify(fields);
      } else if (type === 'list') text = JSON.stringify(await redis.lrange(key, 0, -1));
      else if (type === 'zset') text = JSON.stringify(await redis.zrange(key, 0, -1));
      else if (type === 'set') text = JSON.stringify(await redis.smembers(key));
      else continue;
      expectNoSecret(text, `Redis key ${key}`);
      scanned += 1;
    }
    // The results stream, the events stream and the done marker were among them.
    expect(keys).toEqual(expect.arrayContaining([`${prefix}:remediation:results`, `${prefix}:events`, `${prefix}:remediation:done:${record.id}`]));
    expect(scanned).toBeGreaterThan(3);
  });

  it('the API and `sloth remediation list/show` do not show them', async () => {
    const base = `http://127.0.0.1:${scheduler.listening.port}`;
    const headers = { authorization: `Bearer ${schedulerToken}` };
    for (const path of ['/api/v1/remediations', `/api/v1/remediations/${record.id}`]) {
      const answer = await fetch(`${base}${path}`, { headers });
      expect(answer.status).toBe(200);
      expectNoSecret(await answer.text(), `GET ${path}`);
    }
    let shown = '';
    for (const args of [['list'], ['list', '--json'], ['show', record.id], ['show', record.id, '--json']]) {
      const run = await sloth(['remediation', ...args, '--scheduler', base, '--token', schedulerToken]);
      expect(run.code, run.stderr).toBe(0);
      expectNoSecret(run.stdout + run.stderr, `sloth remediation ${args.join(' ')}`);
      if (args.length === 2 && args[0] === 'show') shown = run.stdout;
    }
    expect(shown).toContain('"webhook_url":"https://hooks.slack.com/…"');
    expect(shown).toContain('[info] posting to ***');
  });
});
