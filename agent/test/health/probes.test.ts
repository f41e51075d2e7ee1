import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CpuWindow, probe, probeCommand } from '../../src/health/probes.js';
import { healthChecksSchema, type HealthCheckInput } from '../../src/health/check-config.js';

// Regression tests for the security review: a probe must cost the agent a bounded amount of memory
// whatever the target sends, and a check command must not see the agent's secrets.

async function runCheck(input: HealthCheckInput): Promise<{ ok: boolean; message: string }> {
  const [check] = healthChecksSchema.parse([input]);
  return await probe(check!, new CpuWindow());
}

describe('http probe body cap', () => {
  let server: Server;
  let url: string;
  let closed: Promise<void>;
  let head = '';

  beforeEach(async () => {
    head = '';
    let markClosed: () => void = () => undefined;
    closed = new Promise((r) => (markClosed = r));
    // An endless body: 64 KiB chunks for as long as the client reads.
    server = createServer((_req, res: ServerResponse) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.once('close', () => markClosed());
      if (head !== '') res.write(head);
      const chunk = Buffer.alloc(64 * 1024, 'x');
      const pump = (): void => {
        while (!res.destroyed && res.write(chunk));
        if (!res.destroyed) res.once('drain', pump);
      };
      pump();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/health`;
  });
  afterEach(async () => {
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
  });

  // The check's own timeout (30 s) is far past the test's: returning at all proves the body was not read to the end.
  it('a status-only check does not read an endless body, and closes the connection', async () => {
    expect(await runCheck({ name: 'web', type: 'http', target: url, timeout: 30 })).toEqual({ ok: true, message: 'HTTP 200' });
    await closed;
  }, 10_000);

  it('bodyMatch reads at most 64 KiB of an endless body and matches within it', async () => {
    head = 'status: all good\n';
    expect(await runCheck({ name: 'web', type: 'http', target: url, bodyMatch: 'all good', timeout: 30 })).toEqual({ ok: true, message: 'HTTP 200' });
    await closed;
  }, 10_000);

  it('text past the first 64 KiB is not matched', async () => {
    head = `${'y'.repeat(70 * 1024)}all good`;
    expect(await runCheck({ name: 'web', type: 'http', target: url, bodyMatch: 'all good', timeout: 30 })).toEqual({ ok: false, message: 'HTTP 200, body does not match /all good/ (in its first 65536 bytes)' });
    await closed;
  }, 10_000);
});

describe('command probe environment', () => {
  const saved = { token: process.env.SLOTH_AGENT_TOKEN, redis: process.env.REDIS_URL };
  beforeEach(() => {
    process.env.SLOTH_AGENT_TOKEN = 'agent-token-secret';
    process.env.REDIS_URL = 'redis://:pw@127.0.0.1:6379';
  });
  afterEach(() => {
    for (const [key, value] of [['SLOTH_AGENT_TOKEN', saved.token], ['REDIS_URL', saved.redis]] as const) {
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
  });

  it('a check command does not see the agent token, Redis URL or any SLOTH_ variable', async () => {
    const script = 'process.stdout.write(JSON.stringify(Object.keys(process.env).filter((k) => k.startsWith("SLOTH_") || k === "REDIS_URL")))';
    expect(await probeCommand([process.execPath, '-e', script], 5000)).toEqual({ ok: true, message: 'exit 0: []' });
  });

  it('a check command gets the agent PATH and locale', async () => {
    const script = 'process.stdout.write(JSON.stringify([process.env.PATH === process.argv[1], process.env.LANG ?? null]))';
    const outcome = await probeCommand([process.execPath, '-e', script, process.env.PATH ?? ''], 5000);
    expect(outcome).toEqual({ ok: true, message: `exit 0: ${JSON.stringify([true, process.env.LANG ?? null])}` });
  });
});
