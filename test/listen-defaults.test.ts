import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, RedisServer } from '@sloth/core';
import { SlothProcess } from './helpers/agent-processes.js';

/** Issue 10 item 8: roles listen on 127.0.0.1 unless told otherwise, and say which socket they bound. */
describe('listening defaults (built CLI)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sloth-listen-'));
  let redis: RedisServer;
  const running: SlothProcess[] = [];
  beforeAll(async () => {
    redis = await RedisServer.start({ dir: join(dir, 'redis'), appendOnly: false });
    mkdirSync(join(dir, 'playbooks'));
  });
  afterAll(async () => {
    for (const proc of running) await proc.stop();
    await redis?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const collector = (name: string, extra: string[]): SlothProcess => {
    const proc = SlothProcess.spawn(['collector', '--data-dir', join(dir, name), '--redis-url', redis.url, '--redis-prefix', name, '--port', '0', '--metrics-port', '0', '--token', 'listen-token-123', ...extra]);
    running.push(proc);
    return proc;
  };

  it('the collector binds 127.0.0.1 by default and prints it', async () => {
    const proc = collector('default', []);
    const bound = await proc.waitForOutput(/query API on \S+ \(socket bound to ([\d.:[\]]+):(\d+)\)/);
    expect(bound[1]).toBe('127.0.0.1');
    const metrics = await proc.waitForOutput(/Prometheus exposition: \S+ \(socket bound to ([\d.:[\]]+):\d+/);
    expect(metrics[1]).toBe('127.0.0.1');
  });

  it('the collector prints 0.0.0.0 when told to listen everywhere', async () => {
    const proc = collector('everywhere', ['--host', '0.0.0.0']);
    const bound = await proc.waitForOutput(/query API on (\S+) \(socket bound to ([\d.:[\]]+):(\d+)\)/);
    expect(bound[2]).toBe('0.0.0.0');
    expect(bound[1]).toBe(`http://127.0.0.1:${bound[3]}/api/v1/`);
  });

  it('the scheduler binds 127.0.0.1 by default and prints it', async () => {
    const port = await freePort();
    const proc = SlothProcess.spawn(['scheduler', '--data-dir', join(dir, 'scheduler'), '--redis-url', redis.url, '--redis-prefix', 'sched', '--port', String(port), '--playbooks', join(dir, 'playbooks'), '--token', 'listen-token-123']);
    running.push(proc);
    const bound = await proc.waitForOutput(/remediation API on \S+ \(socket bound to ([\d.:[\]]+):(\d+)\)/);
    expect(bound[1]).toBe('127.0.0.1');
    expect(Number(bound[2])).toBe(port);
  });
});
