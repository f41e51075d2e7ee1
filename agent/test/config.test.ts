import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ConfigError } from '@sloth/core';
import { agentPaths, loadAgentConfig, parseLabelFlags } from '../src/config.js';

describe('agent configuration', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sloth-agent-config-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('applies defaults, then file, env and flags', async () => {
    const file = join(dir, 'sloth.yaml');
    await writeFile(file, 'dataDir: /var/lib/sloth\nagent:\n  interval: 5\n  labels: { role: web }\n  checks:\n    - { name: root, type: disk }\n');
    const config = loadAgentConfig({ file, env: { SLOTH_AGENT_TOKEN: 'from-env-token' }, flags: { collector: 'https://collector.example:4318', metricsPort: 0 } });
    expect(config).toMatchObject({
      collector: 'https://collector.example:4318',
      token: 'from-env-token',
      interval: 5,
      metricsPort: 0,
      labels: { role: 'web' },
      maxSpoolMb: 256,
      logMaxFiles: 5,
    });
    expect(config.checks[0]).toMatchObject({ name: 'root', type: 'disk', target: '/', maxUtilization: 0.9, interval: 30, failureThreshold: 3 });
    expect(agentPaths(config)).toEqual({
      stateDir: '/var/lib/sloth/agent',
      spoolDir: '/var/lib/sloth/agent/spool',
      checksFile: '/var/lib/sloth/agent/checks.json',
      logFile: '/var/lib/sloth/agent/agent.log',
    });
  });

  it('lists every problem at once: unknown check type, negative interval, bad collector URL, missing token', async () => {
    const file = join(dir, 'sloth.yaml');
    await writeFile(file, 'agent:\n  interval: -1\n  collector: "127.0.0.1 4318"\n  checks:\n    - { name: a, type: smoke-signal }\n');
    let error: unknown;
    try {
      loadAgentConfig({ file, env: {}, flags: { labels: parseLabelFlags(['zone=a', 'oops']) } });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const problems = (error as ConfigError).problems.map((p) => `${p.key}: ${p.message}`);
    expect(problems).toEqual(
      expect.arrayContaining([
        'agent.interval: must be at least 1 second',
        'agent.collector: must be an http:// or https:// URL such as http://127.0.0.1:4318',
        'agent.checks.0.type: unknown check type; expected one of http, tcp, command, disk, memory, cpu',
        'agent.labels.oops: write each label as key=value',
        expect.stringMatching(/^agent\.token: a collector token is required/),
      ]),
    );
    expect(problems).toHaveLength(5);
  });

  it('takes per-command environment extensions for exec, and refuses keys that load other code at start-up', async () => {
    const file = join(dir, 'sloth.yaml');
    await writeFile(file, 'agent:\n  allowExec: [systemctl]\n  allowExecEnv: { systemctl: [SYSTEMD_COLORS] }\n');
    expect(loadAgentConfig({ file, env: {}, flags: { insecureNoAuth: true } }).allowExecEnv).toEqual({ systemctl: ['SYSTEMD_COLORS'] });
    await writeFile(file, 'agent:\n  allowExec: [ldd]\n  allowExecEnv: { ldd: [LD_PRELOAD, SYSTEMD_COLORS] }\n');
    const problems = (() => {
      try {
        loadAgentConfig({ file, env: {}, flags: { insecureNoAuth: true } });
        return [];
      } catch (error) {
        return (error as ConfigError).problems.map((p) => `${p.key}: ${p.message}`);
      }
    })();
    expect(problems).toEqual([expect.stringMatching(/^agent\.allowExecEnv: .*'LD_PRELOAD' can load or run other code/)]);
  });

  it('accepts no token with insecureNoAuth', () => {
    expect(loadAgentConfig({ file: undefined, env: {}, flags: { insecureNoAuth: true } }).token).toBeUndefined();
  });
});
