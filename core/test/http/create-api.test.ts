import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { createApi, HttpError, listenApi, localUrl, silentLogger, TokenSet, canonicalPath, canonicalUrl } from '../../src/index.js';

/**
 * Sends one raw HTTP/1.1 request (path verbatim, keep-alive asked for, headers as given, repeated ones too) from
 * `localAddress` (another loopback address is another client); resolves with the status, body and whether the
 * server ended the socket.
 */
async function raw(
  port: number,
  method: string,
  path: string,
  headers: Record<string, string> | ReadonlyArray<readonly [string, string]> = {},
  body = '',
  localAddress = '127.0.0.1',
): Promise<{ status: number; body: string; ended: boolean }> {
  return new Promise((resolve, reject) => {
    const socket = connect({ port, host: '127.0.0.1', localAddress });
    let text = '';
    let ended = false;
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      text += chunk;
      const headEnd = text.indexOf('\r\n\r\n');
      if (headEnd === -1) return;
      const length = Number(/content-length: (\d+)/i.exec(text.slice(0, headEnd))?.[1] ?? '0');
      if (text.length >= headEnd + 4 + length) {
        // Keep-alive was asked for: a server that keeps the socket would never end it; wait briefly for 'end' only when it announced close.
        const closing = /\r\nconnection: close/i.test(text.slice(0, headEnd));
        if (!closing) {
          socket.destroy();
          finish();
        }
      }
    });
    socket.on('end', () => {
      ended = true;
      finish();
    });
    socket.on('error', reject);
    let done = false;
    function finish(): void {
      if (done) return;
      done = true;
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? '0');
      resolve({ status, body: text.slice(text.indexOf('\r\n\r\n') + 4), ended });
    }
    const pairs = Array.isArray(headers) ? headers : Object.entries(headers);
    const head = [`${method} ${path} HTTP/1.1`, `host: 127.0.0.1:${port}`, 'connection: keep-alive', ...pairs.map(([k, v]) => `${k}: ${v}`)];
    if (body !== '') head.push(`content-length: ${Buffer.byteLength(body)}`);
    socket.write(`${head.join('\r\n')}\r\n\r\n${body}`);
  });
}

describe('localUrl', () => {
  it('reaches a wildcard bind on loopback and brackets IPv6 literals', () => {
    expect(localUrl('0.0.0.0', 8080)).toBe('http://127.0.0.1:8080');
    expect(localUrl('::', 8080)).toBe('http://127.0.0.1:8080');
    expect(localUrl('::1', 4318, 'https')).toBe('https://[::1]:4318');
    expect(localUrl('10.0.0.5', 9)).toBe('http://10.0.0.5:9');
  });
});

describe('canonicalPath', () => {
  it.each([
    ['/%61pi/v1/series', '/api/v1/series'],
    ['/%761/metrics', '/v1/metrics'],
    ['/api//v1/series', '/api/v1/series'],
    ['/api/./v1/series', '/api/v1/series'],
    ['/api/v1/series/', '/api/v1/series'],
    ['/x/../api/v1/series', '/api/v1/series'],
    ['/../../api/v1/series', '/api/v1/series'],
    ['/api/%2e/v1/series', '/api/v1/series'],
    ['/api/v1/a%2fb', '/api/v1/a%2Fb'],
    ['/', '/'],
  ])('%s → %s', (input, expected) => {
    expect(canonicalPath(input)).toBe(expected);
  });
});

describe('canonicalUrl', () => {
  it.each([
    ['/api//v1/series?name=a', '/api/v1/series?name=a'],
    ['http://host:4318/api/v1/agents', '/api/v1/agents'],
    ['HTTPS://host/%61pi/v1/series?x=//y', '/api/v1/series?x=//y'],
    ['http://host', '/'],
    ['http://host?x=1', '/?x=1'],
    ['/http://host/api', '/http:/host/api'],
  ])('%s → %s', (input, expected) => {
    expect(canonicalUrl(input)).toBe(expected);
  });
});

describe('createApi', () => {
  let app: FastifyInstance;
  let port: number;
  const tokens = new TokenSet([
    { token: 'agent-secret-1', name: 'web-1' },
    { token: 'admin-secret-1', name: 'ops', admin: true },
  ]);

  beforeAll(async () => {
    app = createApi({ name: 'test', tokens, logger: silentLogger(), maxJsonDepth: 16 });
    app.get('/healthz', { config: { auth: 'public' } }, async () => ({ status: 'ok' }));
    app.get('/api/v1/things', async (request) => ({ caller: request.principal?.name }));
    app.get('/api/v1/things/:id', async (request) => ({ id: (request.params as { id: string }).id }));
    app.post('/api/v1/things/:id/approve', { config: { auth: 'admin' } }, async (request) => ({ by: request.principal?.name }));
    app.post(
      '/api/v1/echo',
      { schema: { body: { type: 'object', properties: { n: { type: 'integer' } }, additionalProperties: false } } },
      async (request) => request.body,
    );
    app.get('/api/v1/boom', async () => {
      throw new Error('secret internals');
    });
    app.get('/api/v1/missing', async () => {
      throw new HttpError(404, 'SLOTH_ERR_NOT_FOUND', 'no such thing', { id: 'x' });
    });
    port = (await listenApi(app, { port: 0, host: '127.0.0.1' })).port;
  });
  afterAll(async () => {
    await app.close();
  });

  const spellings = ['/api/v1/things', '/%61pi/v1/things', '/api//v1/things', '/api/./v1/things', '/API/v1/things', '/api/v1/things/', '/api/V1/Things', '/x/../api/v1/things'];

  it.each(spellings)('authenticates %s on the matched route: 401 without a token, 200 with one', async (path) => {
    const anonymous = await raw(port, 'GET', path);
    expect(anonymous.status).toBe(401);
    expect(JSON.parse(anonymous.body)).toMatchObject({ code: 'SLOTH_ERR_AUTH', details: {} });
    const bad = await raw(port, 'GET', path, { authorization: 'Bearer not-a-token' });
    expect(bad.status).toBe(401);
    const good = await raw(port, 'GET', path, { authorization: 'Bearer agent-secret-1' });
    expect(good.status).toBe(200);
    expect(JSON.parse(good.body)).toEqual({ caller: 'web-1' });
  });

  it('keeps path parameters as sent while matching static segments without case', async () => {
    const answer = await raw(port, 'GET', '/API/v1/things/AbC', { authorization: 'Bearer agent-secret-1' });
    expect(JSON.parse(answer.body)).toEqual({ id: 'AbC' });
  });

  it('lets public routes through and closes the connection after a 401', async () => {
    const health = await raw(port, 'GET', '/healthz');
    expect(health.status).toBe(200);
    expect(health.ended).toBe(false);
    const refused = await raw(port, 'GET', '/api/v1/things');
    expect(refused.ended).toBe(true);
  });

  it('answers unknown routes 401 without a token and 404 with the standard body with one', async () => {
    expect((await raw(port, 'GET', '/nope')).status).toBe(401);
    expect((await raw(port, 'POST', '/healthz')).status).toBe(401);
    const found = await raw(port, 'GET', '/nope', { authorization: 'Bearer agent-secret-1' });
    expect(found.status).toBe(404);
    expect(JSON.parse(found.body)).toEqual({ code: 'SLOTH_ERR_NOT_FOUND', message: 'no route GET /nope on the test', details: { method: 'GET', path: '/nope' } });
  });

  it('answers 403 to a non-admin token on an admin route, and names the admin as caller', async () => {
    const agent = await raw(port, 'POST', '/%61pi/v1/things/7/approve', { authorization: 'Bearer agent-secret-1' });
    expect(agent.status).toBe(403);
    expect(JSON.parse(agent.body)).toMatchObject({ code: 'SLOTH_ERR_FORBIDDEN' });
    const admin = await raw(port, 'POST', '/api/v1/things/7/approve', { authorization: 'Bearer admin-secret-1' });
    expect(JSON.parse(admin.body)).toEqual({ by: 'ops' });
  });

  it('answers 400 with the standard body to deep JSON, bad JSON and unknown fields', async () => {
    const auth = { authorization: 'Bearer agent-secret-1', 'content-type': 'application/json' };
    const deep = await raw(port, 'POST', '/api/v1/echo', auth, `${'['.repeat(5000)}${']'.repeat(5000)}`);
    expect(deep.status).toBe(400);
    expect(JSON.parse(deep.body)).toMatchObject({ code: 'SLOTH_ERR_BAD_REQUEST', details: { maxJsonDepth: 16 } });
    const broken = await raw(port, 'POST', '/api/v1/echo', auth, '{"n":');
    expect(broken.status).toBe(400);
    expect(JSON.parse(broken.body)).toMatchObject({ code: 'SLOTH_ERR_BAD_REQUEST' });
    const unknown = await raw(port, 'POST', '/api/v1/echo', auth, '{"n":1,"extra":2}');
    expect(unknown.status).toBe(400);
    expect(JSON.parse(unknown.body)).toEqual({ code: 'SLOTH_ERR_BAD_REQUEST', message: 'unknown body field "extra"', details: { in: 'body', parameter: 'extra' } });
    const ok = await raw(port, 'POST', '/api/v1/echo', auth, '{"n":1}');
    expect(JSON.parse(ok.body)).toEqual({ n: 1 });
  });

  it('answers errors thrown by handlers with the standard body and hides internals of 500s', async () => {
    const auth = { authorization: 'Bearer agent-secret-1' };
    const missing = await raw(port, 'GET', '/api/v1/missing', auth);
    expect(missing.status).toBe(404);
    expect(JSON.parse(missing.body)).toEqual({ code: 'SLOTH_ERR_NOT_FOUND', message: 'no such thing', details: { id: 'x' } });
    const boom = await raw(port, 'GET', '/api/v1/boom', auth);
    expect(boom.status).toBe(500);
    expect(boom.body).not.toContain('secret internals');
    expect(JSON.parse(boom.body)).toMatchObject({ code: 'SLOTH_ERR_INTERNAL' });
  });

  it('refuses a request with two Authorization headers with 400, whichever comes first and whatever the route', async () => {
    const valid: [string, string] = ['authorization', 'Bearer agent-secret-1'];
    const invalid: [string, string] = ['authorization', 'Bearer not-a-token'];
    for (const [path, headers] of [
      ['/api/v1/things', [invalid, valid]],
      ['/api/v1/things', [valid, invalid]],
      ['/api/v1/things', [valid, valid]],
      ['/healthz', [valid, invalid]],
      ['/nope', [invalid, valid]],
    ] as const) {
      const answer = await raw(port, 'GET', path, headers);
      expect(answer.status, `${path} ${JSON.stringify(headers)}`).toBe(400);
      expect(JSON.parse(answer.body)).toEqual({
        code: 'SLOTH_ERR_BAD_REQUEST',
        message: 'the request carries 2 Authorization headers; send exactly one: "Authorization: Bearer <token>"',
        details: { header: 'authorization', count: 2 },
      });
      expect(answer.ended).toBe(true);
    }
    expect((await raw(port, 'GET', '/api/v1/things', [valid])).status).toBe(200);
  });

  it('serves an absolute-form request target as its path, authenticated the same', async () => {
    const target = `http://127.0.0.1:${port}/api/v1/things`;
    expect((await raw(port, 'GET', target)).status).toBe(401);
    const good = await raw(port, 'GET', target, { authorization: 'Bearer agent-secret-1' });
    expect(good.status).toBe(200);
    expect(JSON.parse(good.body)).toEqual({ caller: 'web-1' });
    expect((await raw(port, 'GET', `HTTP://other.example/%61pi//v1/things?x=1`, { authorization: 'Bearer agent-secret-1' })).status).toBe(200);
    expect((await raw(port, 'GET', 'http://127.0.0.1/healthz')).status).toBe(200);
  });

  it('caps concurrent connections, per client too, and waits 10 s at most for a request’s headers', () => {
    expect(app.server.maxConnections).toBe(1024);
    expect(app.server.headersTimeout).toBe(10_000);
  });
});

describe('createApi connections per client', () => {
  it('closes a client’s connections past maxConnectionsPerClient at once, so its idle sockets leave room for others', async () => {
    const capped = createApi({ name: 'test', tokens: new TokenSet([{ token: 'agent-secret-1', name: 'web-1' }]), logger: silentLogger(), maxConnections: 12, maxConnectionsPerClient: 4 });
    capped.get('/api/v1/things', async (request) => ({ caller: request.principal?.name }));
    const { port } = await listenApi(capped, { port: 0, host: '127.0.0.1' });
    const held: Array<ReturnType<typeof connect>> = [];
    const closed = { count: 0 };
    try {
      // One client (127.0.0.1) opens 20 sockets and sends nothing on them: more than the whole server's 12.
      await Promise.all(
        Array.from({ length: 20 }, async () => {
          const socket = connect({ port, host: '127.0.0.1', localAddress: '127.0.0.1' });
          held.push(socket);
          socket.on('error', () => undefined);
          socket.on('close', () => (closed.count += 1));
          await new Promise<void>((resolve) => socket.once('connect', resolve).once('close', () => resolve()));
        }),
      );
      for (const deadline = Date.now() + 5_000; closed.count < 16 && Date.now() < deadline; ) await new Promise((r) => setTimeout(r, 10));
      expect(closed.count).toBe(16);
      expect(await new Promise<number>((resolve) => capped.server.getConnections((_e, n) => resolve(n)))).toBe(4);
      // Another client is served on a fresh connection, and keeps it.
      const other = await raw(port, 'GET', '/api/v1/things', { authorization: 'Bearer agent-secret-1' }, '', '127.0.0.2');
      expect(other).toMatchObject({ status: 200, ended: false });
      expect(JSON.parse(other.body)).toEqual({ caller: 'web-1' });
      // The first client gets its slots back as its sockets close.
      for (const socket of held) socket.destroy();
      while (await new Promise<number>((resolve) => capped.server.getConnections((_e, n) => resolve(n))) > 0) await new Promise((r) => setTimeout(r, 10));
      expect((await raw(port, 'GET', '/api/v1/things', { authorization: 'Bearer agent-secret-1' })).status).toBe(200);
    } finally {
      for (const socket of held) socket.destroy();
      await capped.close();
    }
  });
});

describe('createApi headers timeout', () => {
  it('closes a connection that sends nothing, and one that trickles its headers, soon after headersTimeoutMillis, long before the request timeout', async () => {
    const slow = createApi({ name: 'test', tokens: new TokenSet([{ token: 'agent-secret-1', name: 'web-1' }]), logger: silentLogger(), headersTimeoutMillis: 500, requestTimeoutMillis: 60_000 });
    slow.get('/healthz', { config: { auth: 'public' } }, async () => ({ status: 'ok' }));
    const { port } = await listenApi(slow, { port: 0, host: '127.0.0.1' });
    /** Whether the server closed the socket within 10 s (far inside the 60 s request timeout); `trickle` sends a header byte every 200 ms. */
    const closedByServer = async (trickle: boolean): Promise<boolean> =>
      new Promise((resolve, reject) => {
        const socket = connect(port, '127.0.0.1');
        socket.resume();
        let dripping: NodeJS.Timeout | undefined;
        socket.on('close', () => {
          clearInterval(dripping);
          resolve(true);
        });
        socket.on('error', reject);
        setTimeout(() => {
          clearInterval(dripping);
          socket.destroy();
          resolve(false);
        }, 10_000).unref();
        if (trickle) {
          socket.write('GET /healthz HTTP/1.1\r\nhost: x\r\nx-slow: ');
          dripping = setInterval(() => socket.write('a'), 200);
        }
      });
    try {
      expect(await Promise.all([closedByServer(false), closedByServer(true)])).toEqual([true, true]);
      // A request whose headers arrive at once is served as before.
      expect((await raw(port, 'GET', '/healthz')).status).toBe(200);
    } finally {
      await slow.close();
    }
  });
});

describe('createApi connection cap', () => {
  it('drops connections past maxConnections and serves again once one closes', async () => {
    const capped = createApi({ name: 'test', tokens: new TokenSet([], { insecureNoAuth: true }), logger: silentLogger(), maxConnections: 2 });
    capped.get('/healthz', { config: { auth: 'public' } }, async () => ({ status: 'ok' }));
    const { port } = await listenApi(capped, { port: 0, host: '127.0.0.1' });
    const open = async (): Promise<ReturnType<typeof connect>> =>
      new Promise((resolve, reject) => {
        const socket = connect(port, '127.0.0.1', () => resolve(socket));
        socket.on('error', reject);
      });
    try {
      const held = [await open(), await open()];
      // Wait until the server has accepted both, so the third is the one over the cap.
      while (await new Promise<number>((resolve) => capped.server.getConnections((_e, n) => resolve(n))) < 2) await new Promise((r) => setTimeout(r, 10));
      const third = await raw(port, 'GET', '/healthz').catch((error: NodeJS.ErrnoException) => ({ status: 0, body: error.code ?? 'error', ended: true }));
      expect(third.status).toBe(0);
      for (const socket of held) socket.destroy();
      while (await new Promise<number>((resolve) => capped.server.getConnections((_e, n) => resolve(n))) > 0) await new Promise((r) => setTimeout(r, 10));
      expect((await raw(port, 'GET', '/healthz')).status).toBe(200);
    } finally {
      await capped.close();
    }
  });
});

describe('createApi body read timeout', () => {
  it('answers 408 and disconnects a client that stops sending its body', async () => {
    const slow = createApi({ name: 'test', tokens: new TokenSet([{ token: 'agent-secret-1', name: 'web-1' }]), logger: silentLogger(), requestTimeoutMillis: 400 });
    slow.post('/api/v1/echo', async (request) => request.body);
    const { port } = await listenApi(slow, { port: 0, host: '127.0.0.1' });
    try {
      const answer = await new Promise<{ text: string; ended: boolean }>((resolve, reject) => {
        const socket = connect(port, '127.0.0.1');
        let text = '';
        socket.setEncoding('utf8');
        socket.on('data', (chunk: string) => {
          text += chunk;
        });
        socket.on('end', () => resolve({ text, ended: true }));
        socket.on('error', reject);
        // Promises 100 bytes, sends 10, then nothing.
        socket.write('POST /api/v1/echo HTTP/1.1\r\nhost: x\r\nauthorization: Bearer agent-secret-1\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{"n":12345');
      });
      expect(answer.ended).toBe(true);
      expect(answer.text).toMatch(/^HTTP\/1\.1 408/);
    } finally {
      await slow.close();
    }
  });
});

describe('createApi answers sent before the body arrived', () => {
  it('end the connection, so a client that stalls its body after an early 503 does not hold the socket', async () => {
    const shedding = createApi({ name: 'test', tokens: new TokenSet([{ token: 'agent-secret-1', name: 'web-1' }]), logger: silentLogger(), requestTimeoutMillis: 60_000 });
    // Like the collector's load shedding: an onRequest hook answers before the body is read.
    shedding.post('/api/v1/ingest', { onRequest: async (_request, reply) => reply.code(503).header('retry-after', '1').send({ code: 'SLOTH_ERR_UNAVAILABLE', message: 'busy', details: {} }) }, async () => ({ ok: true }));
    shedding.post('/api/v1/echo', async (request) => request.body);
    const { port } = await listenApi(shedding, { port: 0, host: '127.0.0.1' });
    const stalled = async (path: string): Promise<{ text: string; ended: boolean }> =>
      new Promise((resolve, reject) => {
        const socket = connect(port, '127.0.0.1');
        let text = '';
        socket.setEncoding('utf8');
        socket.on('data', (chunk: string) => {
          text += chunk;
        });
        socket.on('end', () => resolve({ text, ended: true }));
        socket.on('error', reject);
        // Long before the 60 s request timeout: a server that kept the socket waiting for the body would not end it.
        setTimeout(() => {
          socket.destroy();
          resolve({ text, ended: false });
        }, 2_000);
        socket.write(`POST ${path} HTTP/1.1\r\nhost: x\r\nauthorization: Bearer agent-secret-1\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{"n":1`);
      });
    try {
      const early = await stalled('/api/v1/ingest');
      expect(early.text).toMatch(/^HTTP\/1\.1 503/);
      expect(early.text).toMatch(/\r\nconnection: close\r\n/i);
      expect(early.ended).toBe(true);
      // A complete request keeps its keep-alive connection.
      const whole = await raw(port, 'POST', '/api/v1/echo', { authorization: 'Bearer agent-secret-1', 'content-type': 'application/json' }, '{"n":1}');
      expect(whole).toMatchObject({ status: 200, ended: false });
    } finally {
      await shedding.close();
    }
  });
});

describe('createApi headers that never end', () => {
  it('are cut off soon after the request timeout, not at Node’s default 30 s sweep', async () => {
    const slow = createApi({ name: 'test', tokens: new TokenSet([{ token: 'agent-secret-1', name: 'web-1' }]), logger: silentLogger(), requestTimeoutMillis: 400 });
    slow.get('/healthz', { config: { auth: 'public' } }, async () => ({ status: 'ok' }));
    const { port } = await listenApi(slow, { port: 0, host: '127.0.0.1' });
    try {
      const ended = await new Promise<boolean>((resolve, reject) => {
        const socket = connect(port, '127.0.0.1');
        socket.resume();
        socket.on('close', () => resolve(true));
        socket.on('error', reject);
        // Well inside Node's default 30 s sweep, well past 400 ms plus a 1 s sweep on a loaded machine.
        setTimeout(() => {
          socket.destroy();
          resolve(false);
        }, 15_000).unref();
        socket.write('GET /healthz HTTP/1.1\r\nhost: x\r\nx-slow: ');
      });
      expect(ended).toBe(true);
    } finally {
      await slow.close();
    }
  });
});
