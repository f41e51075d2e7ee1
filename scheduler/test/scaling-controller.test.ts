import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeJsonMessage, MetricsRegistry, QueryClient, redisKeys, silentLogger, type ForecastMessage } from '@sloth/core';
import { actuatorFor, scalingTargetSchema, ScalingController, targetPolicy, webhookSignature, type RecordedDecision } from '../src/index.js';
import { CollectorDouble } from './collector-double.js';
import { startRedis, type Harness } from './helpers.js';

let h: Harness;
const collector = new CollectorDouble();
const received: Array<{ body: { target: string; replicas: number; previous: number }; signatureOk: boolean }> = [];
let webhook: Server;
let webhookUrl = '';
const secret = 'a-very-secret-hmac-key';

beforeAll(async () => {
  h = await startRedis();
  await collector.start();
  webhook = createServer((request, response) => {
    let text = '';
    request.on('data', (chunk: Buffer) => (text += chunk.toString()));
    request.on('end', () => {
      const timestamp = Number(request.headers['x-sloth-timestamp']);
      received.push({ body: JSON.parse(text), signatureOk: request.headers['x-sloth-signature'] === webhookSignature(secret, timestamp, text) });
      response.writeHead(204).end();
    });
  });
  await new Promise<void>((r) => webhook.listen(0, '127.0.0.1', r));
  webhookUrl = `http://127.0.0.1:${(webhook.address() as AddressInfo).port}/scale`;
});
afterAll(async () => {
  await new Promise<void>((r) => webhook.close(() => r()));
  await collector.stop();
  await h.cleanup();
});

const series = 'http.server.requests{agent="web-1"}';
const minute = 60_000;
const t0 = Date.UTC(2026, 0, 5, 0, 0, 0);

/** Runs `steps` decisions a minute apart: the demand point and a forecast message are written before each. */
async function drive(controller: ScalingController, clock: { now: number }, keys: ReturnType<typeof redisKeys>, steps: number, demand: (step: number) => number, forecast: (step: number, ahead: number) => number): Promise<RecordedDecision[]> {
  const out: RecordedDecision[] = [];
  for (let step = 0; step < steps; step += 1) {
    clock.now = t0 + step * minute;
    collector.latest.set(series, { agentId: 'web-1', t: clock.now, v: demand(step) });
    const message: ForecastMessage = {
      seriesId: series,
      agentId: 'web-1',
      metric: 'http.server.requests',
      issuedAtMillis: clock.now,
      stepMillis: minute,
      points: Array.from({ length: 10 }, (_, i) => {
        const v = forecast(step, i + 1);
        return { timestampMillis: clock.now + (i + 1) * minute, p10: v * 0.9, p50: v, p90: v * 1.1 };
      }),
      model: 'test',
      modelVersion: '1',
    };
    await h.redis.xadd(keys.forecasts, '*', ...encodeJsonMessage(message));
    const decision = await controller.decide('web');
    if (decision !== undefined) out.push(decision);
  }
  return out;
}

function target(extra: Record<string, unknown>) {
  return scalingTargetSchema.parse({
    name: 'web',
    demandSeries: series,
    capacityPerReplica: 10,
    minReplicas: 1,
    maxReplicas: 50,
    startupSeconds: 180,
    intervalSeconds: 60,
    targetUtilization: 1,
    underProvisioningCost: 9,
    overProvisioningCost: 1,
    minHistory: 5,
    ...extra,
  });
}

describe('ScalingController (real Redis, collector API and webhook over HTTP)', () => {
  it('scales out one startup time ahead of a forecast ramp through the signed webhook, and records why', async () => {
    const keys = redisKeys(`${h.prefix}a`);
    const clock = { now: t0 };
    const config = target({ mode: 'act', actuator: { kind: 'webhook', url: webhookUrl, secret } });
    const metrics = new MetricsRegistry();
    const controller = new ScalingController({
      targets: [config],
      collector: new QueryClient({ baseUrl: collector.url }),
      redis: h.redis,
      keys,
      actuators: new Map([['web', actuatorFor(config, () => [], () => { throw new Error('no queue'); })!]]),
      logger: silentLogger(),
      metrics,
      now: () => clock.now,
    });
    received.length = 0;
    const demand = (step: number): number => (step < 10 ? 50 : 200);
    const decisions = await drive(controller, clock, keys, 12, demand, (step, ahead) => demand(step + ahead));
    // Step 7 sees the ramp of step 10 in the forecast (3 minutes = the startup time).
    expect(decisions[6]?.replicas).toBe(6);
    expect(decisions[7]).toMatchObject({ replicas: 22, action: 'scale-out', mode: 'predictive', acted: true, reactiveReplicas: 5, forecastModel: 'test@1' });
    expect(decisions[7]?.actuation).toEqual({ kind: 'ok', detail: 'webhook answered 204' });
    const call = received.find((r) => r.body.replicas === 22);
    expect(call?.signatureOk).toBe(true);
    expect(call?.body).toMatchObject({ target: 'web', replicas: 22, previous: 6 });
    const history = await controller.history('web', 3);
    expect(history.map((d) => d.step)).toEqual([11, 10, 9]);
    const text = await metrics.registry.metrics();
    expect(text).toContain('sloth_scheduler_desired_replicas{target="web"} 22');
    // The demand of the last decision (step 11), beside the replicas: what the dashboard draws them against.
    expect(text).toContain('sloth_scheduler_demand{target="web"} 200');
    expect(text).toMatch(/sloth_scheduler_scaling_decisions_total\{target="web",direction="up"\} [1-9]/);
  });

  it('drops to forecast-only on its own when the forecasts go bad, and keeps acting on demand only', async () => {
    const keys = redisKeys(`${h.prefix}b`);
    const clock = { now: t0 };
    const config = target({ mode: 'act', actuator: { kind: 'webhook', url: webhookUrl, secret } });
    const metrics = new MetricsRegistry();
    const controller = new ScalingController({
      targets: [config],
      collector: new QueryClient({ baseUrl: collector.url }),
      redis: h.redis,
      keys,
      actuators: new Map([['web', actuatorFor(config, () => [], () => { throw new Error('no queue'); })!]]),
      logger: silentLogger(),
      metrics,
      now: () => clock.now,
    });
    const demand = (step: number): number => 100 + 20 * Math.sin(step / 4);
    // Good forecasts for 60 minutes, then forecasts five times too high.
    const decisions = await drive(controller, clock, keys, 110, demand, (step, ahead) => (step < 60 ? demand(step + ahead) : 5 * demand(step + ahead)));
    expect(decisions[59]?.mode).toBe('predictive');
    const switched = decisions.findIndex((d) => d.mode === 'forecast-only');
    expect(switched).toBeGreaterThan(60);
    expect(decisions[switched]?.reasons.join(' ')).toMatch(/forecasts degraded \(coverage 0\.\d+ < 0\.5 or MASE/);
    const last = decisions[decisions.length - 1];
    expect(last?.mode).toBe('forecast-only');
    expect(last?.predictiveReplicas).toBeGreaterThan(40);
    // Demand now plus headroom learnt from its own 3-step moves, far below what the forecast asks.
    expect(last?.replicas).toBeLessThanOrEqual(18);
    // The metrics say so too: one mode at 1, the others at 0.
    const text = await metrics.registry.metrics();
    expect(text).toContain('sloth_scheduler_scaling_mode{target="web",mode="forecast-only"} 1');
    expect(text).toContain('sloth_scheduler_scaling_mode{target="web",mode="predictive"} 0');
  });

  it('in forecast-only target mode decides and records but never calls the actuator', async () => {
    const keys = redisKeys(`${h.prefix}c`);
    const clock = { now: t0 };
    const config = target({ mode: 'forecast-only', actuator: { kind: 'webhook', url: webhookUrl, secret } });
    const controller = new ScalingController({
      targets: [config],
      collector: new QueryClient({ baseUrl: collector.url }),
      redis: h.redis,
      keys,
      actuators: new Map([['web', actuatorFor(config, () => [], () => { throw new Error('no queue'); })!]]),
      logger: silentLogger(),
      now: () => clock.now,
    });
    received.length = 0;
    const decisions = await drive(controller, clock, keys, 12, (s) => (s < 10 ? 50 : 200), (s, a) => (s + a < 10 ? 50 : 200));
    expect(decisions[7]).toMatchObject({ replicas: 22, action: 'scale-out', acted: false, actuation: null });
    expect(decisions[7]?.reasons.join(' ')).toMatch(/target in forecast-only mode: would scale-out to 22, not acted on/);
    expect(received).toEqual([]);
  });

  it('rejects bad targets: negative replicas, act without an actuator, a short secret', () => {
    const problems = (input: Record<string, unknown>): string => {
      const parsed = scalingTargetSchema.safeParse({ name: 'web', demandSeries: series, capacityPerReplica: 10, minReplicas: 1, maxReplicas: 5, startupSeconds: 60, ...input });
      return parsed.success ? 'ok' : parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
    };
    expect(problems({ minReplicas: -2 })).toBe('minReplicas: minReplicas cannot be negative');
    expect(problems({ mode: 'act' })).toBe('actuator: mode "act" needs an actuator (webhook or playbook)');
    expect(problems({ actuator: { kind: 'webhook', url: webhookUrl, secret: 'short' } })).toBe('actuator.secret: webhook secrets must be at least 16 characters');
    expect(problems({ minReplicas: 6 })).toBe('maxReplicas: maxReplicas must be ≥ minReplicas');
    expect(problems({ referenceFloor: 'yes' })).toBe('referenceFloor: Invalid input: expected boolean, received string');
    expect(problems({ referenceFloor: true })).toBe('ok');
  });

  it('passes referenceFloor from a target to its policy', () => {
    // Demand 50 per 10-replica capacity: the policy's own floor (90 %) wants 6, the reactive reference (70 %) 8.
    const decide = (referenceFloor: boolean): number => {
      const policy = targetPolicy(scalingTargetSchema.parse({ name: 'web', demandSeries: series, capacityPerReplica: 10, minReplicas: 1, maxReplicas: 20, startupSeconds: 0, referenceFloor }));
      let replicas = 0;
      for (let step = 0; step < 5; step += 1) replicas = policy.decide({ timestampMillis: step * 60_000, demand: 50 }).replicas;
      return replicas;
    };
    expect(decide(false)).toBe(6);
    expect(decide(true)).toBe(8);
  });
});
