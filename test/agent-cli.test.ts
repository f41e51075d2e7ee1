import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '@sloth/core';
import { SlothProcess, cliPath, eventually } from './helpers/agent-processes.js';

const run = promisify(execFile);

async function sloth(args: string[], cwd: string): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [cliPath, ...args], { cwd });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

describe('sloth agent (CLI)', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sloth-agent-cli-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('has help for both `agent` and `agent checks`', { timeout: 120_000 }, async () => {
    const agentHelp = await sloth(['agent', '--help'], dir);
    expect(agentHelp.code).toBe(0);
    expect(agentHelp.stdout).toContain('--collector <url>');
    expect(agentHelp.stdout).toContain('checks [options]');
    const checksHelp = await sloth(['agent', 'checks', '--help'], dir);
    expect(checksHelp.code).toBe(0);
    expect(checksHelp.stdout).toContain('Usage: sloth agent checks');
    expect(checksHelp.stdout).toContain('--json');
  });

  it('rejects bad configuration at start-up, listing every problem', { timeout: 120_000 }, async () => {
    await writeFile(join(dir, 'sloth.yaml'), 'agent:\n  checks:\n    - { name: x, type: carrier-pigeon }\n');
    const result = await sloth(['agent', '--interval', '-3', '--collector', 'localhost:4318'], dir);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('invalid configuration (4 problems)');
    expect(result.stderr).toContain('agent.interval = -3 (flag --interval): must be at least 1 second');
    expect(result.stderr).toContain('agent.collector = "localhost:4318" (flag --collector): must be an http:// or https:// URL');
    expect(result.stderr).toContain('agent.checks.0.type = "carrier-pigeon"');
    expect(result.stderr).toContain('agent.token');
    await rm(join(dir, 'sloth.yaml'));
  });

  it('`sloth agent checks` lists the checks of a running agent with their state', { timeout: 240_000 }, async () => {
    const dataDir = join(dir, 'data');
    const config = join(dir, 'agent.yaml');
    const closed = await freePort();
    await writeFile(
      config,
      `agent:\n  checks:\n    - { name: tmp-disk, type: disk, target: ${JSON.stringify(dir)}, maxUtilization: 1, interval: 1 }\n    - { name: db, type: tcp, target: "127.0.0.1:${closed}", interval: 1, failureThreshold: 1 }\n`,
    );
    // No collector at all: the agent runs anyway and spools.
    const agent = SlothProcess.spawn(['agent', '--config', config, '--data-dir', dataDir, '--insecure-no-auth', '--collector', `http://127.0.0.1:${closed}`, '--metrics-port', '0']);
    try {
      await agent.waitForOutput(/agent \S+ started/);
      const text = await eventually(async () => {
        const r = await sloth(['agent', 'checks', '--data-dir', dataDir], dir);
        return r.code === 0 && /tmp-disk\s+disk\s+healthy/.test(r.stdout) && /db\s+tcp\s+unhealthy/.test(r.stdout) ? r.stdout : undefined;
      });
      expect(text).toMatch(/^agent \S+: UNHEALTHY/);
      expect(text).toContain('ECONNREFUSED');
      const json = await sloth(['agent', 'checks', '--data-dir', dataDir, '--json'], dir);
      const report = JSON.parse(json.stdout) as { overall: string; checks: Array<{ name: string; state: string }> };
      expect(report.overall).toBe('unhealthy');
      expect(report.checks.map((c) => c.name)).toEqual(['tmp-disk', 'db']);
    } finally {
      expect(await agent.stop()).toBe(0);
    }
    const missing = await sloth(['agent', 'checks', '--data-dir', join(dir, 'nothing-here')], dir);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('no agent state at');
  });
});
