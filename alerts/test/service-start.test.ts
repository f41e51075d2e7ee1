import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, createLogger, freePort, RedisServer, sleep } from '@sloth/core';
import { AlertsService, loadAlertsConfig } from '../src/index.js';

async function until<T>(what: string, probe: () => T | undefined, waitMillis = 20_000): Promise<T> {
  const deadline = Date.now() + waitMillis;
  for (;;) {
    const value = probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

const oneRule = `rules:
  - name: AgentDown
    type: absence
    agent_down: true
`;

describe('alerts role start-up and Redis outages', () => {
  let dir: string;
  let redisServer: RedisServer;
  let service: AlertsService | undefined;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'sloth-alerts-start-'));
    redisServer = await RedisServer.start({ dir: join(dir, 'redis'), appendOnly: false });
  });
  afterEach(async () => {
    await service?.shutdown();
    service = undefined;
  });
  afterAll(async () => {
    await redisServer?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const config = async (rules: string): Promise<ReturnType<typeof loadAlertsConfig>> =>
    loadAlertsConfig({ env: {}, flags: { dataDir: dir, redisPrefix: `s${process.pid}`, port: await freePort(), metricsPort: 0, host: '127.0.0.1', insecureNoAuth: true, rules, collectorUrl: 'http://127.0.0.1:9' } });

  it('refuses to start when the alerts file it was given does not exist, naming it', async () => {
    const missing = join(dir, 'alert.yml');
    const refused = new AlertsService({ config: await config(missing), redisUrl: redisServer.url });
    const error = await refused.start().then(
      () => undefined,
      (caught: unknown) => caught,
    );
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).message).toContain(`the alerts file ${missing} does not exist`);
  });

  it('without a named file, runs with no rules and loads the file once it is created', async () => {
    const later = join(dir, 'alerts.yaml');
    service = new AlertsService({ config: await config(later), redisUrl: redisServer.url, tickMillis: 100, rulesFileOptional: true });
    await service.start();
    expect(service.engine?.alertsFile.rules).toHaveLength(0);
    writeFileSync(later, oneRule);
    await until('the created file to be loaded', () => (service?.engine?.alertsFile.rules.length === 1 ? true : undefined));
  });

  it('logs a lost Redis connection as one warning line, not a stack trace per reconnection', async () => {
    const own = await RedisServer.start({ dir: join(dir, 'redis-lost'), appendOnly: false });
    const rules = join(dir, 'lost.yaml');
    writeFileSync(rules, oneRule);
    const logFile = join(dir, 'lost.log');
    service = new AlertsService({ config: await config(rules), redisUrl: own.url, tickMillis: 100, logger: createLogger({ name: 'alerts', level: 'info', destination: logFile }) });
    await service.start();
    await own.stop();
    const warnings = (): string[] => (existsSync(logFile) ? readFileSync(logFile, 'utf8') : '').split('\n').filter((line) => line.includes('Redis connection error'));
    await until('the warning', () => (warnings().length > 0 ? true : undefined));
    // ioredis retries every few hundred milliseconds: still one line per client.
    await sleep(1500);
    expect(warnings().length).toBeLessThanOrEqual(2);
    expect(warnings().map((line) => (JSON.parse(line) as { client: string }).client).sort()).toEqual(expect.arrayContaining(['commands']));
  });
});
