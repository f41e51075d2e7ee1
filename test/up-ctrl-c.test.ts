/**
 * Ctrl-C in a terminal sends SIGINT to the whole foreground process group: to `sloth up` and to every child it
 * started there. The redis-server `sloth up` starts must outlive the roles that flush to it and be stopped last,
 * by `sloth up` itself, so a Ctrl-C stops the stack cleanly instead of pulling Redis from under the roles.
 * (The machine's 127.0.0.1:6379 is only asked whether it is Sloth's: it answers without a password, so it is not.)
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort } from '@sloth/core';
import { SlothProcess } from './helpers/agent-processes.js';

const dir = mkdtempSync(join(tmpdir(), 'sloth-up-ctrl-c-'));
let up: SlothProcess | undefined;
afterAll(async () => {
  await up?.stop('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

describe('sloth up and Ctrl-C', () => {
  it('stops every role cleanly, and its own redis-server last, when the terminal sends SIGINT to the whole group', async () => {
    const [collectorPort, metricsPort, schedulerPort, alertsPort] = await Promise.all(Array.from({ length: 4 }, () => freePort()));
    mkdirSync(join(dir, 'playbooks'));
    const env = { ...process.env };
    delete env.REDIS_URL;
    up = SlothProcess.spawn(
      [
        'up', '--data-dir', join(dir, 'data'), '--playbooks', join(dir, 'playbooks'), '--interval', '1',
        '--collector-port', String(collectorPort), '--metrics-port', String(metricsPort), '--scheduler-port', String(schedulerPort),
        '--alerts-port', String(alertsPort), '--analytics-metrics-port', '0', '--agent-metrics-port', '0', '--scheduler-metrics-port', '0', '--alerts-metrics-port', '0',
      ],
      { ownGroup: true, env },
    );
    await up.waitForOutput(/Ctrl-C stops everything/, 120_000);
    expect(up.stdout).toMatch(/redis +redis:\/\/:\*\*\*@127\.0\.0\.1:\d+ \(started here/);
    await new Promise((r) => setTimeout(r, 3000));
    expect(await up.interrupt()).toBe(0);
    const output = up.stdout + up.stderr;
    expect(up.stdout).toContain('sloth up: stopped');
    expect(output).not.toContain('not cleanly');
    expect(output).not.toContain('ECONNREFUSED');
  }, 180_000);
});
