/**
 * `sloth up` runs every role in one process: a role's port that is taken is named by the `sloth up` flag
 * that sets it, not by the role command's own `--port`, and nothing is left running.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisServer } from '@sloth/core';
import { cliPath } from './helpers/agent-processes.js';

const run = promisify(execFile);
const dir = mkdtempSync(join(tmpdir(), 'sloth-up-port-'));
let redis: RedisServer;
let taken: Server;
let takenPort: number;

beforeAll(async () => {
  redis = await RedisServer.start({ dir: join(dir, 'redis'), appendOnly: false });
  taken = createServer();
  await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
  takenPort = (taken.address() as { port: number }).port;
});
afterAll(async () => {
  taken.close();
  await redis.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('sloth up with a taken port', () => {
  it('names the sloth up flag of the role whose port is taken, and exits', async () => {
    const args = [cliPath, 'up', '--redis-url', redis.url, '--data-dir', join(dir, 'data'), '--collector-port', '0', '--metrics-port', '0', '--analytics-metrics-port', '0', '--scheduler-port', String(takenPort), '--scheduler-metrics-port', '0', '--alerts-port', '0', '--alerts-metrics-port', '0', '--no-agent'];
    const failed = await run(process.execPath, args, { timeout: 60_000 }).then(
      () => undefined,
      (error: { code: number; stderr: string }) => error,
    );
    expect(failed?.code).toBe(1);
    expect(failed?.stderr).toContain(`port ${takenPort} is already in use`);
    expect(failed?.stderr).toContain("(with sloth up, the scheduler's port flags are --scheduler-port, --scheduler-metrics-port)");
  });
});
