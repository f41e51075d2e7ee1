import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ConfigError, SlothError, silentLogger } from '@sloth/core';
import { loadCollectorConfig, parseTokenFlag, startCollector } from '../src/index.js';

const fixtures = fileURLToPath(new URL('./fixtures/', import.meta.url));
let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'sloth-collector-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

function settings(extra: Record<string, unknown>) {
  return loadCollectorConfig({ file: undefined, env: {}, flags: { dataDir: join(dir, 'data'), port: 0, metricsPort: 0, host: '127.0.0.1', publishSamples: false, ...extra } });
}

describe('collector configuration', () => {
  it('reads tokens from the config file and --token flags', () => {
    const file = join(dir, 'sloth.yaml');
    writeFileSync(file, 'collector:\n  tokens:\n    - { token: file-token-123, name: web-1 }\n  maxSeriesPerAgent: 10\n');
    const config = loadCollectorConfig({ file, env: {} });
    expect(config.tokens).toEqual([{ token: 'file-token-123', name: 'web-1' }]);
    expect(config.maxSeriesPerAgent).toBe(10);
    expect(config.port).toBe(4318);
    expect(config.metricsPort).toBe(9464);
    expect(parseTokenFlag('s3cret-value:tenant-a')).toEqual({ token: 's3cret-value', name: 'tenant-a' });
    expect(parseTokenFlag('s3cret-value')).toEqual({ token: 's3cret-value', name: 'default' });
  });

  it('reports every bad key at once', () => {
    expect(() => loadCollectorConfig({ env: { SLOTH_COLLECTOR_PORT: '99999', SLOTH_COLLECTOR_MAX_BODY_BYTES: '-1' } })).toThrow(ConfigError);
    try {
      loadCollectorConfig({ env: { SLOTH_COLLECTOR_PORT: '99999', SLOTH_COLLECTOR_MAX_BODY_BYTES: '-1' } });
    } catch (error) {
      expect((error as ConfigError).problems.map((p) => p.key).sort()).toEqual(['collector.maxBodyBytes', 'collector.port']);
    }
  });

  it('lets the heap grow 60 % past the live data unless told otherwise, and refuses a growth that is not a whole percent', () => {
    expect(loadCollectorConfig({ env: {} }).heapGrowingPercent).toBe(60);
    expect(loadCollectorConfig({ env: { SLOTH_COLLECTOR_HEAP_GROWING_PERCENT: '100' } }).heapGrowingPercent).toBe(100);
    try {
      loadCollectorConfig({ env: { SLOTH_COLLECTOR_HEAP_GROWING_PERCENT: '2.5' } });
      expect.unreachable('a fractional percent was accepted');
    } catch (error) {
      expect((error as ConfigError).problems.map((p) => p.key)).toEqual(['collector.heapGrowingPercent']);
    }
  });

  it('holds points in the store head for 10 s unless told otherwise (0: no head), answers without Server-Timing by default, and refuses a negative hold', () => {
    const defaults = loadCollectorConfig({ env: {} });
    expect([defaults.storeHeadSeconds, defaults.serverTiming]).toEqual([10, false]);
    const set = loadCollectorConfig({ env: { SLOTH_COLLECTOR_STORE_HEAD_SECONDS: '0', SLOTH_COLLECTOR_SERVER_TIMING: 'true' } });
    expect([set.storeHeadSeconds, set.serverTiming]).toEqual([0, true]);
    try {
      loadCollectorConfig({ env: { SLOTH_COLLECTOR_STORE_HEAD_SECONDS: '-1' } });
      expect.unreachable('a negative hold was accepted');
    } catch (error) {
      expect((error as ConfigError).problems.map((p) => p.key)).toEqual(['collector.storeHeadSeconds']);
    }
  });

  it('refuses to start without tokens unless insecureNoAuth is set', async () => {
    await expect(startCollector(settings({}), { logger: silentLogger() })).rejects.toThrow(SlothError);
  });
});

describe('collector over TLS', () => {
  it('serves OTLP/HTTP and the query API over HTTPS with the configured certificate', async () => {
    const collector = await startCollector(
      settings({ tokens: [{ token: 'tls-token-123', name: 'tls-host' }], tlsCert: join(fixtures, 'tls-test-cert.pem'), tlsKey: join(fixtures, 'tls-test-key.pem') }),
      { logger: silentLogger() },
    );
    try {
      expect(collector.urls.otlpUrl).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
      const url = new URL(`${collector.urls.otlpUrl}/v1/logs`);
      const body = JSON.stringify({ resourceLogs: [{ resource: { attributes: [{ key: 'host.name', value: { stringValue: 'tls-host' } }] }, scopeLogs: [{ logRecords: [{ timeUnixNano: String(Date.now() * 1e6), body: { stringValue: 'over tls' } }] }] }] });
      const status = await new Promise<number>((resolve, reject) => {
        const req = request(
          { host: url.hostname, port: url.port, path: url.pathname, method: 'POST', ca: readFileSync(join(fixtures, 'tls-test-cert.pem')), headers: { 'content-type': 'application/json', authorization: 'Bearer tls-token-123' } },
          (res) => {
            res.resume();
            res.on('end', () => resolve(res.statusCode ?? 0));
          },
        );
        req.on('error', reject);
        req.end(body);
      });
      expect(status).toBe(200);
    } finally {
      await collector.shutdown();
    }
  });

  it('refuses a FIFO or an oversized file as its certificate or key, naming it, instead of blocking its start', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sloth-tls-'));
    try {
      const fifo = join(dir, 'cert.fifo');
      execFileSync('mkfifo', [fifo]);
      await expect(startCollector(settings({ tokens: [{ token: 'tls-token-123', name: 'h' }], tlsCert: fifo, tlsKey: join(fixtures, 'tls-test-key.pem') }), { logger: silentLogger() })).rejects.toThrow(
        `TLS certificate ${fifo} is not a regular file (a FIFO)`,
      );
      const huge = join(dir, 'key.pem');
      writeFileSync(huge, Buffer.alloc(2 * 1024 * 1024, 65));
      await expect(startCollector(settings({ tokens: [{ token: 'tls-token-123', name: 'h' }], tlsCert: join(fixtures, 'tls-test-cert.pem'), tlsKey: huge }), { logger: silentLogger() })).rejects.toThrow(
        new RegExp(`TLS key ${huge.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} is 2\\.0 MiB`),
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('collector /metrics with metricsToken', () => {
  it('answers 401 without the token or with another one (an agent token included), and the exposition with it', async () => {
    const collector = await startCollector(settings({ tokens: [{ token: 'agent-token-123', name: 'agents' }], metricsToken: 'scrape-token-456' }), { logger: silentLogger() });
    try {
      const url = collector.urls.metricsUrl;
      const missing = await fetch(url);
      expect(missing.status).toBe(401);
      expect(missing.headers.get('www-authenticate')).toMatch(/^Bearer/);
      expect(await missing.text()).toMatch(/missing bearer token/);
      for (const token of ['agent-token-123', 'scrape-token-457']) {
        const refused = await fetch(url, { headers: { authorization: `Bearer ${token}` } });
        expect(refused.status).toBe(401);
        const text = await refused.text();
        expect(text).toMatch(/invalid bearer token/);
        expect(text).not.toContain('scrape-token-456');
      }
      const scraped = await fetch(url, { headers: { authorization: 'Bearer scrape-token-456' } });
      expect(scraped.status).toBe(200);
      expect(scraped.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
      expect(await scraped.text()).toMatch(/^sloth_collector_active_series \d+$/m);
    } finally {
      await collector.shutdown();
    }
  });

  it('keeps /metrics open without metricsToken', async () => {
    const collector = await startCollector(settings({ insecureNoAuth: true }), { logger: silentLogger() });
    try {
      expect((await fetch(collector.urls.metricsUrl)).status).toBe(200);
    } finally {
      await collector.shutdown();
    }
  });

  it('rejects a metricsToken shorter than 8 characters, naming the key', () => {
    expect(() => loadCollectorConfig({ env: { SLOTH_COLLECTOR_METRICS_TOKEN: 'short' } })).toThrow(/collector\.metricsToken/);
  });
});

describe('collector tokens', () => {
  /** A token file of mode 0600 in the test's directory. */
  function tokenFile(name: string, lines: string[]): string {
    const path = join(dir, name);
    writeFileSync(path, `${lines.join('\n')}\n`, { mode: 0o600 });
    return path;
  }

  it('refuses one secret in two roles at start-up, naming both and never the secret', async () => {
    const cases: Array<[Record<string, unknown>, RegExp[]]> = [
      [{ tokens: [parseTokenFlag('dup-secret-QQQQ:web-1')], adminTokens: [parseTokenFlag('dup-secret-QQQQ:ops')] }, [/agent token "web-1" \(--token \/ collector\.tokens\)/, /admin token "ops" \(--admin-token \/ collector\.adminTokens\)/]],
      [{ tokens: [parseTokenFlag('dup-secret-QQQQ:web-2')], metricsToken: 'dup-secret-QQQQ' }, [/agent token "web-2"/, /the metrics token \(--metrics-token \/ collector\.metricsToken\)/]],
      [{ tokenFile: tokenFile('tokens', ['dup-secret-QQQQ:web-1']), adminTokenFile: tokenFile('admin', ['dup-secret-QQQQ:ops']) }, [/agent token "web-1" \(token file .*tokens\)/, /admin token "ops" \(admin token file .*admin\)/]],
      [{ tokens: [parseTokenFlag('dup-secret-QQQQ:web-1'), parseTokenFlag('dup-secret-QQQQ:web-2')] }, [/agent token "web-1"/, /agent token "web-2"/]],
    ];
    for (const [extra, named] of cases) {
      const error = await startCollector(settings(extra), { logger: silentLogger() }).then(
        () => expect.unreachable(`started with ${JSON.stringify(Object.keys(extra))}`),
        (thrown: unknown) => thrown as SlothError,
      );
      expect(error.code).toBe('SLOTH_ERR_CONFIG');
      for (const pattern of named) expect(error.message).toMatch(pattern);
      expect(JSON.stringify({ message: error.message, details: error.details })).not.toContain('dup-secret-QQQQ');
    }
  });

  it('accepts the same token listed twice alike, and counts every token the API accepts, from token files too', async () => {
    const collector = await startCollector(
      settings({
        tokens: [parseTokenFlag('same-secret-1:web-1'), parseTokenFlag('same-secret-1:web-1')],
        tokenFile: tokenFile('tokens', ['agentsecret-AAAA1111:web-1', 'baresecret-BBBB2222']),
        adminTokenFile: tokenFile('admin', ['adminsecret-CCCC3333:ops']),
        metricsTokenFile: tokenFile('metrics', ['metricsecret-DDDD4444']),
      }),
      { logger: silentLogger() },
    );
    try {
      // web-1 listed twice alike is one token; the metrics token is Prometheus', not one of the API's.
      expect(collector.tokenCount).toBe(4);
      const agents = await fetch(`${collector.urls.otlpUrl}/api/v1/agents`, { headers: { authorization: 'Bearer adminsecret-CCCC3333' } });
      expect(agents.status).toBe(200);
    } finally {
      await collector.shutdown();
    }
  });
});

describe('collector query API consistency', () => {
  it('answers a query sent right after a 200 with the points that request carried', async () => {
    const collector = await startCollector(settings({ insecureNoAuth: true }), { logger: silentLogger() });
    try {
      const base = collector.urls.otlpUrl;
      for (let round = 1; round <= 5; round += 1) {
        const nanos = BigInt(1_764_000_000_000 + round * 1_000) * 1_000_000n;
        const body = {
          resourceMetrics: [
            {
              resource: { attributes: [{ key: 'host.name', value: { stringValue: 'ryw-host' } }] },
              scopeMetrics: [{ metrics: [{ name: 'ryw.gauge', gauge: { dataPoints: [{ timeUnixNano: nanos.toString(), asDouble: round }] } }] }],
            },
          ],
        };
        const sent = await fetch(`${base}/v1/metrics`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
        expect(sent.status).toBe(200);
        // No waiting: the store may not have applied the write yet, and the query must still see it.
        const series = encodeURIComponent('ryw.gauge{agent="ryw-host"}');
        const answer = await fetch(`${base}/api/v1/samples?series=${series}&from=0&to=${Date.now() + 86_400_000}`);
        expect(answer.status).toBe(200);
        const { points } = (await answer.json()) as { points: Array<{ v: number }> };
        expect(points.map((p) => p.v)).toEqual(Array.from({ length: round }, (_, i) => i + 1));
      }
    } finally {
      await collector.shutdown();
    }
  });
});

describe('collector /metrics staleness', () => {
  /** One gauge point from `host`, sampled `ageMillis` ago. */
  async function send(base: string, host: string, ageMillis: number): Promise<void> {
    const nanos = BigInt(Date.now() - ageMillis) * 1_000_000n;
    const body = {
      resourceMetrics: [
        {
          resource: { attributes: [{ key: 'host.name', value: { stringValue: host } }] },
          scopeMetrics: [{ metrics: [{ name: 'stale.gauge', gauge: { dataPoints: [{ timeUnixNano: nanos.toString(), asDouble: 0.99 }] } }] }],
        },
      ],
    };
    const sent = await fetch(`${base}/v1/metrics`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    expect(sent.status).toBe(200);
  }

  it('leaves out series whose newest point is older than metricsMaxAgeSeconds (a stopped agent), and keeps them queryable', async () => {
    const collector = await startCollector(settings({ insecureNoAuth: true }), { logger: silentLogger() });
    try {
      await send(collector.urls.otlpUrl, 'live-host', 10_000);
      await send(collector.urls.otlpUrl, 'stopped-host', 6 * 60_000);
      const text = await (await fetch(collector.urls.metricsUrl)).text();
      expect(text).toMatch(/^stale_gauge\{agent="live-host"\} 0\.99$/m);
      expect(text).not.toContain('stopped-host');
      const latest = await (await fetch(`${collector.urls.otlpUrl}/api/v1/latest?name=stale.gauge`)).json() as Array<{ agentId: string }> | { points: Array<{ agentId: string }> };
      expect(JSON.stringify(latest)).toContain('stopped-host');
    } finally {
      await collector.shutdown();
    }
    const keepAll = await startCollector(settings({ insecureNoAuth: true, metricsMaxAgeSeconds: 0 }), { logger: silentLogger() });
    try {
      await send(keepAll.urls.otlpUrl, 'stopped-host', 6 * 60_000);
      expect(await (await fetch(keepAll.urls.metricsUrl)).text()).toMatch(/^stale_gauge\{agent="stopped-host"\} 0\.99$/m);
    } finally {
      await keepAll.shutdown();
    }
  });
});
