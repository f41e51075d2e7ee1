import { createServer } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, freePort, SlothError } from '@sloth/core';
import { loadAnalyticsConfig } from '../../src/index.js';
import { makeService, startTestBed, type TestBed } from './helpers.js';

let bed: TestBed;
beforeAll(async () => {
  bed = await startTestBed();
});
afterAll(async () => {
  await bed.close();
});

describe('analytics configuration and start-up', () => {
  it('has documented defaults and reads SLOTH_ANALYTICS_* and flags', () => {
    const config = loadAnalyticsConfig({ env: { SLOTH_ANALYTICS_GROUP: 'blue', SLOTH_ANALYTICS_ANOMALY_THRESHOLD: '0.7' }, flags: { metricsPort: 0 } });
    expect(config).toMatchObject({ group: 'blue', anomalyThreshold: 0.7, metricsPort: 0, historyPoints: 4000, forecastIntervalMillis: 300_000, forecastHorizonSteps: 12 });
    expect(loadAnalyticsConfig({ env: {} }).metricsPort).toBe(9466);
  });

  it('reports every bad key at once', () => {
    let error: unknown;
    try {
      loadAnalyticsConfig({ env: { SLOTH_ANALYTICS_ANOMALY_THRESHOLD: '2' }, flags: { metricsPort: 70_000, group: 'bad group' } });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const keys = (error as ConfigError).problems.map((p) => p.key).sort();
    expect(keys).toEqual(['analytics.anomalyThreshold', 'analytics.group', 'analytics.metricsPort']);
  });

  it('fails to start with a clear error when the metrics port is taken, leaving nothing running', async () => {
    const port = await freePort();
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(port, '127.0.0.1', () => resolve()));
    try {
      const service = makeService(bed, { redisPrefix: 'port', dataDir: join(bed.dir, 'port'), metricsPort: port, metricsHost: '127.0.0.1' });
      const error = await service.start().then(() => undefined, (e: unknown) => e);
      expect(error).toBeInstanceOf(SlothError);
      expect((error as SlothError).code).toBe('SLOTH_ERR_PORT_IN_USE');
      expect((error as SlothError).message).toContain(String(port));
    } finally {
      blocker.close();
    }
  });
});
