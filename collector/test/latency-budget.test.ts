import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { silentLogger, TokenSet } from '@sloth/core';
import { EventLoopLag } from '../src/event-loop-lag.js';
import { IngestPipeline, type IngestStore } from '../src/ingest-pipeline.js';
import { LatencyBudget } from '../src/latency-budget.js';
import { buildOtlpApp } from '../src/otlp-http.js';
import type { IngestBatch, MetricPoint } from '../src/records.js';
import { SelfMetrics } from '../src/self-metrics.js';
import { SeriesCache } from '../src/series-cache.js';
import { WriteAheadLog } from '../src/wal.js';
import { gaugeRequestObject } from './helpers/otlp-requests.js';
import { pointAt } from './store/fixtures.js';

/**
 * A store on a slow disk: every transaction holds the thread for `delayMillis`
 * (a real blocking wait, as a synchronous SQLite commit on a slow disk does),
 * then keeps the points in memory.
 */
class SlowDiskStore implements IngestStore {
  readonly points: MetricPoint[] = [];
  private checkpoint = 0;
  private readonly sleeper = new Int32Array(new SharedArrayBuffer(4));
  constructor(private readonly delayMillis: number) {}

  write(batches: readonly IngestBatch[], checkpoint: number): void {
    Atomics.wait(this.sleeper, 0, 0, this.delayMillis);
    for (const b of batches) for (let i = 0; i < b.metrics.length; i++) this.points.push(pointAt(b.metrics, i));
    this.checkpoint = checkpoint;
  }

  lastCheckpoint(): number {
    return this.checkpoint;
  }
}

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'sloth-budget-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

const auth = { authorization: 'Bearer test-token-1', 'content-type': 'application/json' };

function body(value: number): string {
  return JSON.stringify(gaugeRequestObject({ agent: 'a1', name: 'test.budget', points: [{ attributes: { request: String(value) }, value, timeMillis: Date.now() }] }));
}

describe('latency budget', () => {
  it('estimates from measured decoding cost and the bytes queued ahead, and refuses past the budget', () => {
    const budget = new LatencyBudget({ budgetMillis: 250, minRetryAfterSeconds: 1, maxPointsPerTransaction: 1000 });
    expect(budget.decide(1000, 0).admitted).toBe(true); // nothing measured yet: nothing to wait for
    budget.observeDecode(10, 1000); // 0.01 ms per byte
    budget.observeDurable(5);
    const ahead = budget.enter(20_000, 0);
    expect(budget.estimate(1000, 0)).toBeCloseTo(210 + 5, 6);
    expect(budget.decide(1000, 0).admitted).toBe(true);
    const more = budget.enter(5_000, 0);
    const refused = budget.decide(1000, 0);
    expect(refused).toEqual({ admitted: false, estimatedMillis: expect.closeTo(265, 6) as number, retryAfterSeconds: 1 });
    budget.release(more);
    budget.release(more); // releasing twice does not free someone else's share
    expect(budget.estimate(1000, 0)).toBeCloseTo(215, 6);
    budget.release(ahead);
    // A store transaction that held the loop 100 ms for 10 points says little per point (fixed costs, a
    // pause): the next one is expected to hold it about as long, whatever is pending, and not at all when
    // nothing is pending.
    budget.observeStoreBlock(100, 10);
    expect(budget.estimate(1000, 50_000)).toBeCloseTo(10 + 5 + 100, 6);
    expect(budget.estimate(1000, 0)).toBeCloseTo(10 + 5, 6);
    // A large one gives the cost per point (10 ms); the per-transaction average moves to 3,070 ms.
    budget.observeStoreBlock(10_000, 1000);
    const storeBound = budget.decide(1000, 50);
    expect(storeBound.admitted).toBe(false);
    expect(storeBound.estimatedMillis).toBeCloseTo(10 + 5 + 3070, 6);
    expect(storeBound.admitted ? 0 : storeBound.retryAfterSeconds).toBe(3);
    // The store estimate never assumes a transaction larger than the pipeline writes.
    expect(budget.estimate(1000, 1_000_000)).toBeCloseTo(10 + 5 + 10_000, 6);
    expect(budget.decide(1000, 1_000_000)).toMatchObject({ admitted: false, retryAfterSeconds: 10 });
    // A slow host: a request's own WAL sync is past the budget, so refusing it would shed nothing.
    const slowHost = new LatencyBudget({ budgetMillis: 250, minRetryAfterSeconds: 1, maxPointsPerTransaction: 1000 });
    slowHost.observeDurable(300);
    slowHost.observeStoreBlock(400, 10);
    expect(slowHost.decide(1000, 5).admitted).toBe(true);
  });

  it('tightens admission when admitted requests take longer than the model said (feedback from observed latency)', () => {
    const budget = new LatencyBudget({ budgetMillis: 250, minRetryAfterSeconds: 1, maxPointsPerTransaction: 1000 });
    budget.observeDecode(10, 1000); // 0.01 ms per byte
    budget.observeDurable(5);
    budget.enter(20_000, 0); // 200 ms of decoding queued ahead
    const before = budget.decide(1000, 0);
    expect(before).toEqual({ admitted: true, estimatedMillis: expect.closeTo(215, 6) as number });
    const ticket = budget.enter(1000, 0);
    expect(ticket.modelMillis).toBeCloseTo(215, 6);

    // Reality matches the model: no margin.
    budget.complete(ticket, 215);
    expect(budget.feedbackMillis).toBe(0);

    // An admitted request takes 100 ms longer than modelled (a busy machine, time in the socket): the mean
    // excess moves 1/8 of the way (12.5 ms), its deviation 1/4 (25 ms), and the margin is mean + 4 deviations ...
    const slow = budget.decide(1000, 0);
    expect(slow.admitted).toBe(true);
    const slowTicket = budget.enter(1000, 0);
    budget.complete(slowTicket, slowTicket.modelMillis + 100);
    budget.complete(slowTicket, 10_000); // completing twice counts once
    expect(budget.feedbackMillis).toBeCloseTo(12.5 + 4 * 25, 6);
    // ... and a request that the model alone admits (215 ms) is now refused, with the same work queued ahead.
    const refused = budget.decide(1000, 0);
    expect(refused.admitted).toBe(false);
    expect(refused.estimatedMillis).toBeCloseTo(215 + budget.feedbackMillis, 6);
    // Steadily 100 ms slower: the margin settles at the excess itself (its deviation fades).
    // (Each ticket carries the model's last estimate, 215 ms.)
    for (let i = 0; i < 60; i++) budget.complete(budget.enter(0, 0), 315);
    expect(budget.feedbackMillis).toBeCloseTo(100, 0);
    expect(budget.decide(1000, 0).admitted).toBe(false);
    // Faster than the model: the margin falls back to 0, never below (the model alone decides again).
    for (let i = 0; i < 200; i++) budget.complete(budget.enter(0, 0), 150);
    expect(budget.feedbackMillis).toBe(0);
    expect(budget.decide(1000, 0).admitted).toBe(true);
  });

  it('adds the measured event-loop lag to the estimate (the wait before a request is read)', () => {
    const budget = new LatencyBudget({ budgetMillis: 250, minRetryAfterSeconds: 1, maxPointsPerTransaction: 1000 });
    budget.observeDecode(10, 1000);
    const ahead = budget.enter(20_000, 0);
    expect(budget.decide(1000, 0)).toMatchObject({ admitted: true, estimatedMillis: expect.closeTo(210, 6) as number });
    budget.observeEventLoopLag(80);
    expect(budget.feedbackMillis).toBeCloseTo(80, 6);
    expect(budget.decide(1000, 0)).toMatchObject({ admitted: false, estimatedMillis: expect.closeTo(290, 6) as number });
    // Smoothed with gain 1/8: one on-time tick moves it 1/8 of the way back.
    budget.observeEventLoopLag(0);
    expect(budget.feedbackMillis).toBeCloseTo(70, 6);
    budget.observeEventLoopLag(Number.NaN); // ignored
    expect(budget.feedbackMillis).toBeCloseTo(70, 6);
    // With no request in flight the feedback does not count: refusing a lone request would shed nothing.
    budget.complete(ahead);
    expect(budget.decide(1000, 0)).toEqual({ admitted: true, estimatedMillis: expect.closeTo(10, 6) as number });
  });

  it('the event-loop lag sampler reports a loop that was blocked', async () => {
    const lags: number[] = [];
    const sampler = new EventLoopLag((lag) => lags.push(lag), 10);
    sampler.start();
    try {
      // Block the loop for 100 ms: the next tick is due within 10 ms of the start, so it fires at least ~90 ms late.
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 100);
      while (lags.length === 0) await new Promise((r) => setTimeout(r, 5));
    } finally {
      sampler.shutdown();
    }
    expect(Math.max(...lags)).toBeGreaterThanOrEqual(85);
  });

  it('a slow store forces the budget: 503 with Retry-After while its work is queued, and every acknowledged point is stored', async () => {
    const store = new SlowDiskStore(400);
    const series = { cache: new SeriesCache(), admit: () => true };
    const budget = new LatencyBudget({ budgetMillis: 250, minRetryAfterSeconds: 1, maxPointsPerTransaction: 200_000 });
    const pipeline = new IngestPipeline({
      wal: new WriteAheadLog({ dir: join(dir, 'wal'), segmentBytes: 1 << 20, logger: silentLogger() }),
      store,
      sinks: { latest: () => undefined, resources: () => undefined, publish: () => undefined, stored: () => undefined },
      series,
      logger: silentLogger(),
      maxQueuedPoints: 1_000_000,
      maxDecompressedBytes: 1 << 20,
      // Store writes happen only when the test asks (caughtUp), so the queue is known at each request.
      applyDelayMillis: 600_000,
      budget,
    });
    await pipeline.recover();
    const metrics = new SelfMetrics({ queueDepth: () => pipeline.queueDepth, activeSeries: () => 0, latencyBudgetSeconds: () => budget.budgetMillis / 1000 });
    const app = buildOtlpApp({
      pipeline,
      tokens: new TokenSet([{ token: 'test-token-1', name: 'team-a', agents: ['*'] }]),
      series,
      metrics,
      logger: silentLogger(),
      maxBodyBytes: 1 << 20,
      maxDecompressedBytes: 1 << 20,
      retryAfterSeconds: 1,
      budget,
    });
    const post = (value: number) => app.inject({ method: 'POST', url: '/v1/metrics', headers: auth, payload: body(value) });
    try {
      const acknowledged: number[] = [];
      expect((await post(1)).statusCode).toBe(200);
      acknowledged.push(1);
      // Its answer took longer than the (not yet measured, so zero) model: the feedback term saw it.
      expect(budget.feedbackMillis).toBeGreaterThan(0);
      await pipeline.caughtUp(60_000); // the first transaction shows how long the store holds the loop
      expect(store.points).toHaveLength(1);

      expect((await post(2)).statusCode).toBe(200); // nothing queued: within budget
      acknowledged.push(2);
      const refused = await post(3); // point 2 is queued: its transaction would hold this request ~400 ms
      expect(refused.statusCode).toBe(503);
      expect(Number(refused.headers['retry-after'])).toBeGreaterThanOrEqual(1);
      const status = refused.json<{ code: number; message: string }>();
      expect(status.code).toBe(14); // UNAVAILABLE: OTLP clients retry it
      expect(status.message).toMatch(/latency budget of 250 ms/);

      await pipeline.caughtUp(60_000);
      expect((await post(4)).statusCode).toBe(200);
      acknowledged.push(4);

      const exposition = await metrics.render();
      expect(exposition).toMatch(/^sloth_collector_budget_rejections_total 1$/m);
      expect(exposition).toMatch(/^sloth_collector_latency_budget_seconds 0\.25$/m);
      expect(exposition).toMatch(/^sloth_collector_queue_wait_seconds_count 3$/m);
    } finally {
      await app.close();
      await pipeline.shutdown();
    }
    expect(store.points.map((p) => p.value).sort()).toEqual([1, 2, 4]);
  });
});
