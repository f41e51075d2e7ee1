/**
 * Issue 10 item 7 with the built CLI: `sloth agent` started on a damaged spool (a dangling symlink, a
 * FIFO, a directory and an unreadable file where spooled batches should be) keeps exporting to a real
 * collector + redis-server, warns naming each skipped entry, and does not crash-loop: it keeps running,
 * and a second start on the same spool exports too.
 *
 * Root reads any file, so for the unreadable file the agent runs as root without CAP_DAC_OVERRIDE and
 * CAP_DAC_READ_SEARCH (`setpriv --bounding-set`): running it as another user is not possible here,
 * since this sandbox refuses loopback connections between users. Without root or setpriv that one
 * case is skipped with a message; the other three still run.
 */
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisServer, freePort, sleep } from '@sloth/core';
import { SlothProcess, cliPath, eventually, getJson, startCollector } from './helpers/agent-processes.js';

const token = 'damaged-spool-token-1';
const batch = (seq: number): string => `${String(seq).padStart(16, '0')}-metrics.otlp`;
const root = process.getuid?.() === 0;
const setprivWorks = root && spawnSync('setpriv', ['--bounding-set=-dac_override,-dac_read_search', 'true']).status === 0;
if (!setprivWorks) console.warn('agent-damaged-spool: not root or no setpriv, so the unreadable-file case is skipped (root reads a mode-000 file)');

describe('sloth agent on a damaged spool (built CLI, real collector and redis-server)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sloth-agent-damaged-spool-'));
  const dataDir = join(dir, 'agent-data');
  const spoolDir = join(dataDir, 'agent', 'spool');
  let redis: RedisServer;
  let collector: SlothProcess;
  let base: string;
  const agents: SlothProcess[] = [];
  const damaged: Record<string, string> = {};

  beforeAll(async () => {
    redis = await RedisServer.start({ dir: join(dir, 'redis'), appendOnly: false });
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    collector = await startCollector({ dataDir: join(dir, 'collector'), redisUrl: redis.url, redisPrefix: `ds${process.pid}`, port, token });
    mkdirSync(spoolDir, { recursive: true, mode: 0o700 });
    damaged.symlink = join(spoolDir, batch(3));
    symlinkSync(join(dir, 'gone'), damaged.symlink);
    damaged.fifo = join(spoolDir, batch(4));
    const made = spawnSync('mkfifo', [damaged.fifo]);
    if (made.status !== 0) throw new Error(`mkfifo failed: ${made.stderr.toString()}`);
    damaged.directory = join(spoolDir, batch(5));
    mkdirSync(damaged.directory);
    if (setprivWorks) {
      damaged.unreadable = join(spoolDir, batch(6));
      writeFileSync(damaged.unreadable, 'not an OTLP batch, and nobody may read it');
      chmodSync(damaged.unreadable, 0o000);
    }
  }, 120_000);

  afterAll(async () => {
    // An agent stuck on the damage (a blocking FIFO read, say) ignores SIGTERM: kill it rather than leave it behind.
    for (const a of agents) await Promise.race([a.stop(), sleep(10_000).then(async () => a.stop('SIGKILL'))]);
    await collector?.stop();
    await redis?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const startAgent = (): SlothProcess => {
    const args = [cliPath, 'agent', '--collector', base, '--token', token, '--interval', '1', '--metrics-port', '0', '--data-dir', dataDir, '--log-level', 'info'];
    const child = setprivWorks
      ? spawn('setpriv', ['--bounding-set=-dac_override,-dac_read_search', process.execPath, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
      : spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const agent = new SlothProcess(child);
    agents.push(agent);
    return agent;
  };

  /** Newest system.uptime point the collector stored for the agent, once one newer than `after` exists. */
  const uptimeAfter = async (after: number): Promise<number> => {
    const { agentId } = JSON.parse(readFileSync(join(dataDir, 'agent', 'identity.json'), 'utf8')) as { agentId: string };
    return await eventually(async () => {
      const { series } = await getJson<{ series: Array<{ key: string }> }>(`${base}/api/v1/series?agent=${agentId}&name=system.uptime`, token);
      const key = series[0]?.key;
      if (key === undefined) return undefined;
      const { points } = await getJson<{ points: Array<{ t: number }> }>(`${base}/api/v1/samples?series=${encodeURIComponent(key)}&from=${after}&to=${Date.now() + 60_000}`, token);
      return points.filter((p) => p.t > after).length >= 3 ? points.at(-1)!.t : undefined;
    }, 90_000);
  };

  it('keeps exporting, warns naming each skipped entry, and does not crash-loop', async () => {
    const started = Date.now();
    const agent = startAgent();
    await agent.waitForOutput(/agent \S+ started/);
    // Points keep arriving: three collections after the start, the export is not stalled behind the damage.
    await uptimeAfter(started);
    const output = (): string => agent.stdout + agent.stderr;
    for (const [kind, path] of Object.entries(damaged)) {
      expect(output(), `a warning naming the ${kind} ${path}`).toContain(path);
    }
    expect(output()).toMatch(/symbolic link, not a regular file/);
    expect(output()).toMatch(/FIFO, not a regular file/);
    expect(output()).toMatch(/directory, not a regular file/);
    if (setprivWorks) expect(output()).toMatch(/cannot read a spooled export batch; skipping it/);
    await sleep(2_000);
    expect(agent.running, output()).toBe(true);

    // A restart on the same spool (what a supervisor would do) exports again instead of dying.
    expect(await agent.stop()).toBe(0);
    const restarted = Date.now();
    const again = startAgent();
    await again.waitForOutput(/agent \S+ started/);
    await uptimeAfter(restarted);
    expect(again.running, again.stdout + again.stderr).toBe(true);
    expect(again.stdout + again.stderr).toContain(damaged.fifo);
  }, 300_000);
});
