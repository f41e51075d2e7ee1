import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { silentLogger, TokenSet } from '@sloth/core';
import { IngestPipeline, type IngestStore } from '../src/ingest-pipeline.js';
import { limitedAdmission, settleRejections, type PointLimitSettings } from '../src/limits-series.js';
import { buildOtlpApp } from '../src/otlp-http.js';
import type { NormaliseResult } from '../src/otlp-normalise.js';
import type { IngestBatch, MetricPoint } from '../src/records.js';
import { SelfMetrics } from '../src/self-metrics.js';
import { SeriesCache } from '../src/series-cache.js';
import { WriteAheadLog } from '../src/wal.js';
import { gaugeRequestObject } from './helpers/otlp-requests.js';
import { pointAt } from './store/fixtures.js';

class RecordingStore implements IngestStore {
  readonly points: MetricPoint[] = [];
  checkpoint = 0;
  write(batches: readonly IngestBatch[], checkpoint: number): void {
    for (const b of batches) for (let i = 0; i < b.metrics.length; i++) this.points.push(pointAt(b.metrics, i));
    this.checkpoint = checkpoint;
  }
  lastCheckpoint(): number {
    return this.checkpoint;
  }
}

const limits: PointLimitSettings = { maxLabelsPerPoint: 8, maxLabelValueBytes: 64, maxFutureSkewMillis: 600_000 };
let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'sloth-point-limits-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

function pipelineOver(store: RecordingStore, replayRules?: (result: NormaliseResult, receivedAtMillis: number) => NormaliseResult, walDir = 'wal') {
  const series = { cache: new SeriesCache(), admit: limitedAdmission(limits, () => true) };
  const pipeline = new IngestPipeline({
    wal: new WriteAheadLog({ dir: join(dir, walDir), segmentBytes: 1 << 20, logger: silentLogger() }),
    store,
    sinks: { latest: () => undefined, resources: () => undefined, publish: () => undefined, stored: () => undefined },
    series,
    logger: silentLogger(),
    maxQueuedPoints: 1000,
    maxDecompressedBytes: 1 << 20,
    ...(replayRules === undefined ? {} : { replayRules }),
  });
  return { pipeline, series };
}

describe('point limits', () => {
  it('rejects future and over-labelled points in partial_success, and replay after a restart stores exactly what the request stored', async () => {
    const rules = (result: NormaliseResult, receivedAtMillis: number): NormaliseResult => settleRejections(result, { forbidden: 0, labels: 0, labelExample: undefined }, receivedAtMillis, limits);
    const first = new RecordingStore();
    const { pipeline, series } = pipelineOver(first, rules);
    await pipeline.recover();
    const metrics = new SelfMetrics({ queueDepth: () => 0, activeSeries: () => 0 });
    const app = buildOtlpApp({
      pipeline, tokens: new TokenSet([{ token: 'test-token-1', name: 'a1' }]), series, limits, metrics, logger: silentLogger(),
      maxBodyBytes: 1 << 20, maxDecompressedBytes: 1 << 20, retryAfterSeconds: 1,
    });
    const now = Date.now();
    const wide = Object.fromEntries(Array.from({ length: 9 }, (_, i) => [`k${i}`, 'v']));
    const payload = JSON.stringify(
      gaugeRequestObject({
        agent: 'a1',
        name: 'test.g',
        points: [
          { attributes: { at: 'now' }, value: 1, timeMillis: now },
          { attributes: { at: 'future' }, value: 2, timeMillis: now + 3_600_000 },
          { attributes: wide, value: 3, timeMillis: now },
          { attributes: { long: 'x'.repeat(65) }, value: 4, timeMillis: now },
        ],
      }),
    );
    const response = await app.inject({ method: 'POST', url: '/v1/metrics', headers: { authorization: 'Bearer test-token-1', 'content-type': 'application/json' }, payload });
    expect(response.statusCode).toBe(200);
    const partial = response.json<{ partialSuccess: { rejectedDataPoints: string; errorMessage: string } }>().partialSuccess;
    expect(partial.rejectedDataPoints).toBe('3');
    expect(partial.errorMessage).toMatch(/^3 rejected \((label_limit=2, future_timestamp=1|future_timestamp=1, label_limit=2)\)/);
    expect(partial.errorMessage).not.toContain('cardinality');
    await pipeline.shutdown();
    await app.close();
    expect(first.points.map((p) => p.labels.at)).toEqual(['now']);
    // Replay consumes the log: keep a copy for the control below.
    cpSync(join(dir, 'wal'), join(dir, 'wal-copy'), { recursive: true });

    // A restart that replays the whole WAL (a fresh store) keeps the same points out.
    const replayed = new RecordingStore();
    const again = pipelineOver(replayed, rules).pipeline;
    expect(await again.recover()).toBe(1);
    await again.shutdown();
    expect(replayed.points.map((p) => p.labels.at)).toEqual(['now']);

    // Without the rules, replay would have stored the forged future point.
    const unguarded = new RecordingStore();
    const plain = pipelineOver(unguarded, undefined, 'wal-copy').pipeline;
    await plain.recover();
    await plain.shutdown();
    expect(unguarded.points.map((p) => p.labels.at).sort()).toEqual(['future', 'now']);
  });
});
