import { mkdtemp, rm } from 'node:fs/promises';
import os, { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { freePort, silentLogger, sleep } from '@sloth/core';
import { AgentTelemetry, CustomMetrics, DurableSender, OtlpTransport, agentResource } from '../../src/index.js';
import { OtlpSink } from '../helpers/otlp-sink.js';
import { decodeLogs, decodeMetrics, decodeSpans, type DecodedPoint } from '../helpers/otlp-decode.js';

async function waitFor(predicate: () => boolean, timeoutMillis = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMillis;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await sleep(25);
  }
}

describe('CustomMetrics', () => {
  it('keeps the latest value per name and attribute set', () => {
    const m = new CustomMetrics();
    m.gauge('queue.depth', 4, { queue: 'a' });
    m.gauge('queue.depth', 7, { queue: 'a' });
    m.gauge('queue.depth', 1, { queue: 'b' });
    m.counter('jobs.done', 2);
    m.counter('jobs.done', 3);
    m.histogram('job.seconds', 0.5, { kind: 'x' });
    expect(m.latest('queue.depth', { queue: 'a' })).toBe(7);
    expect(m.latest('queue.depth', { queue: 'b' })).toBe(1);
    expect(m.latest('queue.depth')).toBeUndefined();
    expect(m.latest('jobs.done')).toBe(5);
    expect(m.latest('job.seconds', { kind: 'x' })).toBe(0.5);
  });

  it('rejects bad names, non-finite values, negative counter deltas and kind changes', () => {
    const m = new CustomMetrics();
    expect(() => m.gauge('9bad', 1)).toThrow(/invalid metric name/);
    expect(() => m.gauge('ok', Number.NaN)).toThrow(/finite number/);
    expect(() => m.counter('c', -1)).toThrow(/only go up/);
    m.gauge('g', 1);
    expect(() => m.counter('g', 1)).toThrow(/is a gauge/);
  });
});

describe('AgentTelemetry', () => {
  let dir: string;
  let sink: OtlpSink;
  let telemetry: AgentTelemetry | undefined;
  let sender: DurableSender | undefined;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sloth-telemetry-'));
    sink = new OtlpSink();
    await sink.start();
  });
  afterEach(async () => {
    await telemetry?.shutdown();
    await sender?.shutdown();
    await sink.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('exports host, runtime, custom and task metrics, spans and logs over OTLP with the agent resource, and serves Prometheus', async () => {
    sender = new DurableSender({ transport: new OtlpTransport({ collectorUrl: sink.url, token: 'tok' }), spoolDir: join(dir, 'spool'), logger: silentLogger() });
    await sender.start();
    const metricsPort = await freePort();
    telemetry = new AgentTelemetry({
      resource: agentResource({ agentId: 'agent-under-test', labels: { role: 'web' } }),
      sender,
      exportIntervalMillis: 1000,
      prometheus: { port: metricsPort, host: '127.0.0.1' },
    });
    await telemetry.start();
    telemetry.customMetrics.gauge('app.queue.depth', 42, { queue: 'q1' });
    telemetry.recordTaskRun({ kind: 'playbook', name: 'restart-nginx', ok: false, durationMillis: 250 });
    await telemetry.withSpan('check disk', { 'sloth.check': 'disk' }, async () => 1);
    telemetry.emitLog('warn', 'something happened', { where: 'test' });
    await telemetry.forceFlush();

    await waitFor(() => sink.requests.some((r) => r.path === '/v1/metrics') && sink.requests.some((r) => r.path === '/v1/traces') && sink.requests.some((r) => r.path === '/v1/logs'));
    const points: DecodedPoint[] = sink.requests.filter((r) => r.path === '/v1/metrics').flatMap((r) => decodeMetrics(r.body));
    const find = (name: string, where: Record<string, string> = {}): DecodedPoint | undefined =>
      points.find((p) => p.name === name && Object.entries(where).every(([k, v]) => p.attributes[k] === v));

    const resource = points[0]!.resource;
    expect(resource['service.name']).toBe('sloth-agent');
    expect(resource['service.instance.id']).toBe('agent-under-test');
    expect(resource['sloth.agent.label.role']).toBe('web');
    expect(Number(resource['sloth.agent.memory.total'])).toBe(os.totalmem());
    expect(Number(resource['sloth.agent.cpu.count'])).toBe(os.cpus().length);
    for (const key of ['service.version', 'host.name', 'host.id', 'host.arch', 'os.type']) expect(resource[key]).toBeTruthy();

    expect(find('system.memory.limit')?.value).toBe(os.totalmem());
    const cpu = find('system.cpu.utilization')!.value!;
    expect(cpu).toBeGreaterThanOrEqual(0);
    expect(cpu).toBeLessThanOrEqual(1);
    expect(points.filter((p) => p.name === 'system.cpu.utilization' && p.attributes.cpu !== undefined)).toHaveLength(os.cpus().length);
    expect(find('system.memory.usage', { state: 'used' })!.value!).toBeGreaterThan(0);
    expect(find('system.process.count')!.value!).toBeGreaterThan(1);
    expect(find('system.uptime')!.value!).toBeGreaterThan(0);
    expect(find('system.network.io', { device: 'lo', direction: 'receive' })).toBeDefined();
    expect(find('system.filesystem.usage', { state: 'used' })).toBeDefined();
    expect(find('system.cpu.load_average.1m')).toBeDefined();
    expect(find('process.memory.usage')!.value!).toBeGreaterThan(10e6);
    expect(find('v8js.memory.heap.used')!.value!).toBeGreaterThan(0);
    expect(find('app.queue.depth', { queue: 'q1' })?.value).toBe(42);
    expect(find('sloth.agent.task.runs', { kind: 'playbook', name: 'restart-nginx' })?.value).toBe(1);
    expect(find('sloth.agent.task.failures', { kind: 'playbook', name: 'restart-nginx' })?.value).toBe(1);
    expect(find('sloth.agent.task.duration', { kind: 'playbook', name: 'restart-nginx' })?.count).toBe(1);

    const spans = sink.requests.filter((r) => r.path === '/v1/traces').flatMap((r) => decodeSpans(r.body));
    expect(spans.find((s) => s.name === 'check disk')?.attributes['sloth.check']).toBe('disk');
    const logs = sink.requests.filter((r) => r.path === '/v1/logs').flatMap((r) => decodeLogs(r.body));
    expect(logs.find((l) => l.body === 'something happened')?.severityText).toBe('WARN');

    const text = await (await fetch(telemetry.prometheusUrl()!)).text();
    expect(text).toMatch(/app_queue_depth\{[^}]*queue="q1"[^}]*\} 42/);
    expect(text).toContain('system_memory_limit');

    expect(telemetry.systemMemory().totalBytes).toBe(os.totalmem());
    const c = telemetry.systemCpu();
    expect(c.perCore).toHaveLength(os.cpus().length);
    expect(c.utilization).toBeGreaterThanOrEqual(0);
    expect(c.utilization).toBeLessThanOrEqual(1);
  });

  it('refuses a Prometheus port that is taken, naming the port and the flag', async () => {
    const { createServer } = await import('node:net');
    const blocker = createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
    const port = (blocker.address() as { port: number }).port;
    telemetry = new AgentTelemetry({ resource: agentResource({ agentId: 'a2', labels: {} }), prometheus: { port, host: '127.0.0.1' }, hostMetrics: false });
    try {
      await expect(telemetry.start()).rejects.toMatchObject({ code: 'SLOTH_ERR_PORT_IN_USE', message: expect.stringContaining(`port ${port} is in use; pass --metrics-port`) });
    } finally {
      await new Promise<void>((r) => blocker.close(() => r()));
    }
  });
});
