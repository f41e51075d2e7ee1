import { mkdtempSync, rmSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '@sloth/core';
import { loadCollectorConfig, startCollector, type Collector } from '../src/index.js';

// Clients that attack the collector's connections and request framing rather than its data
// (docs/security.md, "Limits"): a real collector, real sockets, other clients on another loopback address.
const token = 'hostile-clients-token';
let dir: string;
let collector: Collector;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sloth-hostile-clients-'));
  const settings = loadCollectorConfig({
    file: undefined,
    env: {},
    flags: {
      dataDir: join(dir, 'data'),
      port: 0,
      metricsPort: 0,
      host: '127.0.0.1',
      publishSamples: false,
      tokens: [{ token, name: 'web-1' }],
      // Small enough that one attacker could hold every slot of both ports without the per-client cap.
      maxConnections: 24,
      maxConnectionsPerClient: 6,
      headersTimeoutSeconds: 1,
    },
  });
  collector = await startCollector(settings, { logger: silentLogger() });
});

afterAll(async () => {
  await collector.shutdown();
  rmSync(dir, { recursive: true, force: true });
});

const portOf = (url: string): number => Number(new URL(url).port);

/** A slow-loris socket from 127.0.0.1: the start of a request, then one more header line every 300 ms, never the blank line. */
async function trickle(port: number): Promise<{ socket: Socket; closed: Promise<void> }> {
  const socket = connect({ port, host: '127.0.0.1', localAddress: '127.0.0.1' });
  socket.on('error', () => undefined);
  socket.resume();
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  await new Promise<void>((resolve) => socket.once('connect', resolve).once('close', () => resolve()));
  if (!socket.destroyed) socket.write('POST /v1/metrics HTTP/1.1\r\nHost: x\r\n');
  const drip = setInterval(() => {
    if (!socket.destroyed) socket.write('x-slow: 1\r\n');
  }, 300);
  void closed.then(() => clearInterval(drip));
  return { socket, closed };
}

/** Requests from 127.0.0.2 over one kept-alive connection, as an agent sends; each answer within 5 s or the request fails. */
class OtherClient {
  private readonly agent = new Agent({ keepAlive: true, maxSockets: 1 });

  async send(url: string, init: { method?: string; headers?: Record<string, string>; body?: string } = {}): Promise<{ status: number; body: string; reusedSocket: boolean }> {
    return new Promise((resolve, reject) => {
      const req = request(url, { method: init.method ?? 'GET', headers: init.headers, agent: this.agent, localAddress: '127.0.0.2', timeout: 5_000 }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (body += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body, reusedSocket: req.reusedSocket }));
      });
      req.on('timeout', () => req.destroy(new Error(`no answer from ${url} within 5 s`)));
      req.on('error', reject);
      req.end(init.body);
    });
  }

  close(): void {
    this.agent.destroy();
  }
}

describe('collector under a slow-loris', () => {
  it('serves other clients, keep-alive included, while one client holds sockets on both ports, and closes that client’s sockets', async () => {
    const apiPort = portOf(collector.urls.otlpUrl);
    const metricsPort = portOf(collector.urls.metricsUrl);
    // 40 sockets on each port: more than maxConnections (24) of either.
    const held = await Promise.all([...Array.from({ length: 40 }, async () => await trickle(apiPort)), ...Array.from({ length: 40 }, async () => await trickle(metricsPort))]);
    const other = new OtherClient();
    try {
      const auth = { authorization: `Bearer ${token}` };
      const agents = await other.send(`${collector.urls.otlpUrl}/api/v1/agents`, { headers: auth });
      expect(agents.status).toBe(200);
      const body = JSON.stringify({ resourceMetrics: [{ resource: { attributes: [{ key: 'service.instance.id', value: { stringValue: 'web-1' } }] }, scopeMetrics: [] }] });
      const ingest = await other.send(`${collector.urls.otlpUrl}/v1/metrics`, { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body });
      expect(ingest).toMatchObject({ status: 200, reusedSocket: true });
      expect((await other.send(collector.urls.metricsUrl)).status).toBe(200);
      // Past the cap, sockets are closed at once; the 6 left on each port when their headers do not end within 1 s.
      await Promise.all(held.map(async ({ closed }) => await closed));
    } finally {
      other.close();
      for (const { socket } of held) socket.destroy();
    }
  });
});

describe('collector request framing', () => {
  it('refuses two Authorization headers on an OTLP route with 400 and the OTLP Status body', async () => {
    const port = portOf(collector.urls.otlpUrl);
    const answer = await new Promise<string>((resolve, reject) => {
      const socket = connect(port, '127.0.0.1');
      let text = '';
      socket.setEncoding('utf8');
      socket.on('data', (chunk: string) => (text += chunk));
      socket.on('end', () => resolve(text));
      socket.on('error', reject);
      const body = '{}';
      socket.write(
        `POST /v1/metrics HTTP/1.1\r\nhost: x\r\nauthorization: Bearer not-a-token\r\nauthorization: Bearer ${token}\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\n\r\n${body}`,
      );
    });
    expect(answer).toMatch(/^HTTP\/1\.1 400/);
    expect(JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4))).toEqual({ code: 3, message: 'the request carries 2 Authorization headers; send exactly one: "Authorization: Bearer <token>"' });
  });

  it('serves an absolute-form request target like its path, authenticated the same', async () => {
    const port = portOf(collector.urls.otlpUrl);
    const status = async (headers: string): Promise<number> =>
      new Promise((resolve, reject) => {
        const socket = connect(port, '127.0.0.1');
        let text = '';
        socket.setEncoding('utf8');
        socket.on('data', (chunk: string) => {
          text += chunk;
          if (text.includes('\r\n\r\n')) {
            socket.destroy();
            resolve(Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? '0'));
          }
        });
        socket.on('error', reject);
        socket.write(`GET http://collector.example/api/v1/agents HTTP/1.1\r\nhost: collector.example\r\n${headers}\r\n`);
      });
    expect(await status('')).toBe(401);
    expect(await status(`authorization: Bearer ${token}\r\n`)).toBe(200);
  });
});
