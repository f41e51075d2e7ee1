import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Collector, loadCollectorConfig } from '@sloth/collector';
import { freePort, silentLogger, sleep } from '@sloth/core';
import { cpuPercent, fetchStatus, formatAgo, formatStatusTable, summarizeAgents, type LatestPoint, type StatusResult } from '../src/status-table.js';

const run = promisify(execFile);
const mainJs = join(import.meta.dirname, '..', 'dist', 'src', 'main.js');

function lp(name: string, agentId: string, v: number, labels: Record<string, string> = {}): LatestPoint {
  return { key: `${name}:${agentId}:${JSON.stringify(labels)}`, name, agentId, labels: { ...labels, agent: agentId }, t: 0, v };
}

describe('status table', () => {
  it('formats how long ago an agent was seen', () => {
    expect(formatAgo(10_000, 10_400)).toBe('just now');
    expect(formatAgo(0, 12_000)).toBe('12s ago');
    expect(formatAgo(0, 300_000)).toBe('5m ago');
    expect(formatAgo(0, 3 * 3_600_000)).toBe('3h ago');
    expect(formatAgo(0, 3 * 86_400_000)).toBe('3d ago');
  });

  it('computes CPU % from a total point, per-CPU states, or per-core values', () => {
    expect(cpuPercent([lp('c', 'a', 0.25), lp('c', 'a', 0.9, { cpu: '0' })])).toBe(25);
    expect(cpuPercent([lp('c', 'a', 0.6, { cpu: '0', state: 'idle' }), lp('c', 'a', 0.4, { cpu: '1', state: 'idle' })])).toBeCloseTo(50);
    expect(cpuPercent([lp('c', 'a', 0.1, { 'cpu.mode': 'user' }), lp('c', 'a', 0.2, { 'cpu.mode': 'system' })])).toBeCloseTo(30);
    expect(cpuPercent([lp('c', 'a', 0.2, { cpu: '0' }), lp('c', 'a', 0.4, { cpu: '1' })])).toBeCloseTo(30);
    expect(cpuPercent([])).toBeNull();
  });

  it('joins agents with their metrics and renders an aligned plain table', () => {
    const now = 1_000_000;
    const rows = summarizeAgents(
      [
        { id: 'db-1', principal: 'ops', state: 'down', firstSeenMillis: 0, lastSeenMillis: now - 300_000, attributes: {} },
        { id: 'web-1', principal: 'ops', state: 'up', firstSeenMillis: 0, lastSeenMillis: now - 12_000, attributes: {} },
      ],
      [
        lp('system.cpu.utilization', 'web-1', 0.234),
        lp('system.memory.utilization', 'web-1', 0.61, { state: 'used' }),
        lp('system.cpu.load_average.1m', 'web-1', 0.5),
        lp('system.memory.usage', 'db-1', 1_000, { state: 'used' }),
        lp('system.memory.usage', 'db-1', 3_000, { state: 'free' }),
      ],
    );
    expect(rows).toEqual([
      { id: 'db-1', state: 'down', lastSeenMillis: now - 300_000, cpuPercent: null, memoryPercent: 25, load1: null },
      { id: 'web-1', state: 'up', lastSeenMillis: now - 12_000, cpuPercent: 23.400000000000002, memoryPercent: 61, load1: 0.5 },
    ]);
    expect(formatStatusTable(rows, { nowMillis: now, color: false })).toBe(
      [
        'AGENT  STATE  LAST SEEN  CPU %  MEM %  LOAD 1m',
        'db-1   down   5m ago         -   25.0        -',
        'web-1  up     12s ago     23.4   61.0     0.50',
        '',
        '2 agents, 1 up, 1 down',
        '',
      ].join('\n'),
    );
    const coloured = formatStatusTable(rows, { nowMillis: now, color: true });
    expect(coloured).toContain('\u001b[31mdown \u001b[0m');
    expect(coloured).toContain('\u001b[32mup   \u001b[0m');
    expect(formatStatusTable([], { nowMillis: now, color: false })).toBe('No agents have reported to this collector yet.\n');
  });
});

describe('sloth status against a running collector', () => {
  const token = 'status-test-token-1';
  let dir: string;
  let collector: Collector;
  let baseUrl: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'sloth-status-'));
    const settings = loadCollectorConfig({
      env: {},
      flags: { dataDir: dir, host: '127.0.0.1', port: await freePort(), metricsPort: await freePort(), tokens: [{ token, name: 'ops', admin: true }], publishSamples: false },
    });
    collector = new Collector(settings, { logger: silentLogger() });
    baseUrl = (await collector.start()).otlpUrl;
    const nowNanos = String(BigInt(Date.now()) * 1_000_000n);
    const gauge = (name: string, unit: string, value: number, attributes: Array<{ key: string; value: { stringValue: string } }> = []) => ({
      name,
      unit,
      gauge: { dataPoints: [{ timeUnixNano: nowNanos, asDouble: value, attributes }] },
    });
    const body = {
      resourceMetrics: [
        {
          resource: { attributes: [{ key: 'host.name', value: { stringValue: 'web-1' } }] },
          scopeMetrics: [
            {
              scope: { name: 'status-test' },
              metrics: [
                gauge('system.cpu.utilization', '1', 0.25),
                gauge('system.cpu.utilization', '1', 0.9, [{ key: 'cpu', value: { stringValue: '0' } }]),
                gauge('system.memory.utilization', '1', 0.5, [{ key: 'state', value: { stringValue: 'used' } }]),
                gauge('system.cpu.load_average.1m', '{thread}', 1.5),
              ],
            },
          ],
        },
      ],
    };
    const response = await fetch(`${baseUrl}/v1/metrics`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify(body),
    });
    expect(response.status).toBe(200);
  });

  afterAll(async () => {
    await collector.shutdown();
    rmSync(dir, { recursive: true, force: true });
  });

  async function statusWithMetrics(): Promise<StatusResult> {
    // The collector acknowledges once the data is durable; the registry and latest values follow right after.
    const deadline = Date.now() + 10_000;
    let result = await fetchStatus({ collectorUrl: baseUrl, token });
    while (Date.now() < deadline && !(result.ok && result.rows[0]?.load1 !== null && result.rows[0]?.load1 !== undefined)) {
      await sleep(50);
      result = await fetchStatus({ collectorUrl: baseUrl, token });
    }
    return result;
  }

  it('reads agents and key metrics through the query API', async () => {
    const result = await statusWithMetrics();
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.rows.map((r) => ({ ...r, lastSeenMillis: typeof r.lastSeenMillis }))).toEqual([
      { id: 'web-1', state: 'up', lastSeenMillis: 'number', cpuPercent: 25, memoryPercent: 50, load1: 1.5 },
    ]);
  });

  it('says clearly when the token is wrong or missing, or the collector is unreachable', async () => {
    const wrong = await fetchStatus({ collectorUrl: baseUrl, token: 'not-the-token' });
    expect(wrong).toEqual({ ok: false, reason: 'unauthorized', message: `the collector at ${baseUrl} rejected the token (HTTP 401): check --token.` });
    const missing = await fetchStatus({ collectorUrl: baseUrl });
    expect(missing).toMatchObject({ ok: false, reason: 'unauthorized', message: expect.stringContaining('pass --token') as unknown });
    const nobody = `http://127.0.0.1:${await freePort()}`;
    const unreachable = await fetchStatus({ collectorUrl: nobody, token });
    expect(unreachable).toMatchObject({ ok: false, reason: 'unreachable' });
    expect(unreachable.ok ? '' : unreachable.message).toMatch(new RegExp(`^cannot reach the collector at ${nobody} \\(ECONNREFUSED\\)`));
    expect(await fetchStatus({ collectorUrl: 'not a url' })).toMatchObject({ ok: false, message: expect.stringContaining('is not a URL') as unknown });
  });

  it('runs as `sloth status` (table without colours when not a TTY, --json, exit codes)', async () => {
    await statusWithMetrics();
    const table = await run(process.execPath, [mainJs, 'status', '--collector', baseUrl, '--token', token]);
    const lines = table.stdout.split('\n');
    expect(lines[0]).toBe('AGENT  STATE  LAST SEEN  CPU %  MEM %  LOAD 1m');
    expect(lines[1]).toMatch(/^web-1 {2}up {5}(just now|\d+s ago) +25\.0 {3}50\.0 {5}1\.50$/);
    expect(table.stdout).not.toContain('\u001b[');

    const json = await run(process.execPath, [mainJs, 'status', '--collector', baseUrl, '--json'], { env: { ...process.env, SLOTH_TOKEN: token } });
    expect((JSON.parse(json.stdout) as { agents: unknown[] }).agents).toMatchObject([{ id: 'web-1', state: 'up', cpuPercent: 25, memoryPercent: 50, load1: 1.5 }]);

    const denied = await run(process.execPath, [mainJs, 'status', '--collector', baseUrl, '--token', 'wrong-token']).catch((error: unknown) => error as { code: number; stderr: string });
    expect(denied).toMatchObject({ code: 3 });
    expect((denied as { stderr: string }).stderr).toContain('rejected the token');
    expect((denied as { stderr: string }).stderr).not.toContain('wrong-token');
  });
});
