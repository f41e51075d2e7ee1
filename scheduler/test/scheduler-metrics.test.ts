import { execFileSync } from 'node:child_process';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { freePort, silentLogger } from '@sloth/core';
import { loadSchedulerConfig, Scheduler } from '../src/index.js';
import { remediationOutcome } from '../src/metrics.js';
import { AgentDouble } from './agent-double.js';
import { anomaly, cpuAnomaly, eventually, startRedis, startScheduler, testPlaybook, xaddJson, type Harness } from './helpers.js';

/** The value of one sample line of an exposition, or undefined when the series is absent. */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

let h: Harness;
let scheduler: Scheduler | undefined;
let agents: AgentDouble | undefined;

beforeEach(async () => {
  h = await startRedis();
});

afterEach(async () => {
  await agents?.stop();
  await scheduler?.shutdown();
  scheduler = undefined;
  agents = undefined;
  await h.cleanup();
});

async function scrape(port: number): Promise<string> {
  const response = await fetch(`http://127.0.0.1:${port}/metrics`);
  expect(response.status).toBe(200);
  expect(response.headers.get('content-type')).toContain('text/plain');
  return await response.text();
}

describe('scheduler /metrics', () => {
  it('a remediation run increments its counter by outcome, observes its duration and stamps its last run; promtool accepts the page', async () => {
    const metricsPort = await freePort();
    scheduler = await startScheduler(h, [testPlaybook('cpu-fix', cpuAnomaly), testPlaybook('cpu-other', cpuAnomaly)], { metricsPort, cooldownSeconds: 0 });
    expect(scheduler.metricsPort).toBe(metricsPort);
    agents = new AgentDouble(h.redisServer.url, scheduler.keys);
    agents.behaviour = (_agent, job) => (job.playbook.name === 'cpu-fix' ? 'succeed' : 'fail');
    await agents.start('web-1');

    const before = await scrape(metricsPort);
    expect(sample(before, 'sloth_remediation_runs_total{playbook="cpu-fix",outcome="succeeded"}')).toBeUndefined();

    await xaddJson(h.redis, scheduler.keys.anomalies, anomaly('web-1'));
    const text = await eventually(async () => {
      const t = await scrape(metricsPort);
      return sample(t, 'sloth_remediation_runs_total{playbook="cpu-other",outcome="failed"}') === 1 && sample(t, 'sloth_remediation_runs_total{playbook="cpu-fix",outcome="succeeded"}') === 1 ? t : undefined;
    }, 20_000, 'both remediations counted');
    expect(sample(text, 'sloth_remediation_duration_seconds_count{playbook="cpu-fix"}')).toBe(1);
    const lastRun = sample(text, 'sloth_remediation_last_run_timestamp_seconds{playbook="cpu-fix",outcome="succeeded"}') ?? 0;
    expect(Math.abs(lastRun - Date.now() / 1000)).toBeLessThan(600);
    // Queue depths are counted for the agent queue the jobs went to (all done now, so 0 or a stale count that drains).
    const depths = await eventually(async () => {
      const t = await scrape(metricsPort);
      return t.includes('sloth_scheduler_queue_depth{queue="agent.web-1",state="wait"}') ? t : undefined;
    }, 20_000, 'the agent queue in the depth gauge');
    expect(sample(depths, 'sloth_scheduler_queue_depth{queue="tasks",state="wait"}')).toBe(0);
    expect(depths).toContain('process_resident_memory_bytes ');
    expect(execFileSync('promtool', ['check', 'metrics'], { input: depths, encoding: 'utf8' }).trim()).toBe('');

    // Counters only go up: another run of the same playbook adds one more.
    await xaddJson(h.redis, scheduler.keys.anomalies, { ...anomaly('web-1'), timestampMillis: Date.now() + 1 });
    await eventually(async () => (sample(await scrape(metricsPort), 'sloth_remediation_runs_total{playbook="cpu-fix",outcome="succeeded"}') === 2 ? true : undefined), 20_000, 'a second run counted');
  });

  it('the outcome label separates timeouts from failures and names refusals', () => {
    expect(remediationOutcome({ state: 'failed', error: 'SLOTH_ERR_UNREACHABLE: result timeout' })).toBe('timed_out');
    expect(remediationOutcome({ state: 'failed', error: 'exit code 1' })).toBe('failed');
    expect(remediationOutcome({ state: 'rejected', error: null })).toBe('refused');
    expect(remediationOutcome({ state: 'expired', error: null })).toBe('refused');
    expect(remediationOutcome({ state: 'skipped_cooldown', error: null })).toBe('skipped');
    expect(remediationOutcome({ state: 'running', error: null })).toBeUndefined();
  });

  it('an explicit metrics port that is taken fails start-up with a message naming --metrics-port; 0 turns /metrics off', async () => {
    const taken = await freePort();
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(taken, '127.0.0.1', resolve));
    try {
      await expect(startSchedulerStrict(taken)).rejects.toThrow(/--metrics-port/);
      scheduler = await startScheduler(h, [], { metricsPort: 0 });
      expect(scheduler.metricsPort).toBe(0);
    } finally {
      blocker.close();
    }
  });
});

async function startSchedulerStrict(metricsPort: number): Promise<Scheduler> {
  const config = loadSchedulerConfig({ env: {}, flags: { dataDir: join(h.dir, 'strict'), redisPrefix: `${h.prefix}s`, port: await freePort(), host: '127.0.0.1', insecureNoAuth: true, metricsPort } });
  const s = new Scheduler({ config, redisUrl: h.redisServer.url, loadPlaybooks: async () => [], logger: silentLogger(), anyMetricsPortIfTaken: false });
  await s.start();
  return s;
}
