import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { RedisServer } from '@sloth/core';

/** The built CLI (`npx tsc -b` first). */
export const cliPath = fileURLToPath(new URL('../../../cli/dist/src/main.js', import.meta.url));

export interface GaugePoint {
  readonly agent: string;
  readonly name: string;
  readonly value: number;
  readonly timeMillis: number;
  readonly attributes?: Readonly<Record<string, string>>;
}

/** A real `sloth collector` process with its own Redis, temp dir, token and ports, fed over OTLP/HTTP. */
export class SeededCollector {
  private constructor(
    readonly url: string,
    readonly token: string,
    readonly redis: RedisServer,
    readonly redisPrefix: string,
    readonly dir: string,
    private readonly child: ChildProcess,
  ) {}

  static async start(token = 'report-test-token-7f3a'): Promise<SeededCollector> {
    const dir = mkdtempSync(join(tmpdir(), 'sloth-report-'));
    const redis = await RedisServer.start({ dir: join(dir, 'redis') });
    const prefix = `rpt${process.pid}`;
    const args = [cliPath, 'collector', '--data-dir', join(dir, 'data'), '--redis-url', redis.url, '--redis-prefix', prefix, '--port', '0', '--metrics-port', '0', '--host', '127.0.0.1', '--log-level', 'warn', '--token', token];
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout?.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.stderr?.on('data', (chunk: Buffer) => (out += chunk.toString()));
    for (let i = 0; i < 600; i++) {
      const match = /OTLP\/HTTP on (\S+)\/v1\//.exec(out);
      if (match !== null) return new SeededCollector(match[1] as string, token, redis, prefix, dir, child);
      if (child.exitCode !== null) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    child.kill('SIGKILL');
    await redis.stop();
    throw new Error(`collector did not start:\n${out}`);
  }

  /** Sends gauge points as OTLP/JSON, a few thousand per request. */
  async send(points: readonly GaugePoint[]): Promise<void> {
    for (let i = 0; i < points.length; i += 5_000) await this.post(points.slice(i, i + 5_000));
  }

  private async post(points: readonly GaugePoint[]): Promise<void> {
    const groups = new Map<string, Map<string, GaugePoint[]>>();
    for (const p of points) {
      const byName = groups.get(p.agent) ?? new Map<string, GaugePoint[]>();
      byName.set(p.name, [...(byName.get(p.name) ?? []), p]);
      groups.set(p.agent, byName);
    }
    const body = {
      resourceMetrics: [...groups].map(([agent, byName]) => ({
        resource: { attributes: [{ key: 'service.instance.id', value: { stringValue: agent } }] },
        scopeMetrics: [
          {
            metrics: [...byName].map(([name, list]) => ({
              name,
              unit: '1',
              gauge: {
                dataPoints: list.map((p) => ({
                  timeUnixNano: String(BigInt(p.timeMillis) * 1_000_000n),
                  asDouble: p.value,
                  attributes: Object.entries(p.attributes ?? {}).map(([key, value]) => ({ key, value: { stringValue: value } })),
                })),
              },
            })),
          },
        ],
      })),
    };
    // A busy collector sheds load with 503 / 429 and Retry-After, as OTLP allows: retry like an exporter does.
    for (let attempt = 1; ; attempt++) {
      const response = await fetch(`${this.url}/v1/metrics`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${this.token}` }, body: JSON.stringify(body) });
      if (response.ok) {
        await response.body?.cancel();
        return;
      }
      const text = await response.text();
      if ((response.status !== 503 && response.status !== 429) || attempt >= 60) throw new Error(`OTLP export failed: ${response.status} ${text}`);
      const seconds = Number(response.headers.get('retry-after') ?? '1');
      await new Promise((r) => setTimeout(r, (Number.isFinite(seconds) && seconds > 0 ? Math.min(seconds, 5) : 1) * 1_000));
    }
  }

  async stop(): Promise<void> {
    if (this.child.exitCode === null) {
      const exited = new Promise((r) => this.child.once('exit', r));
      this.child.kill('SIGTERM');
      await exited;
    }
    await this.redis.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/**
 * A small fleet: `web-1` busy with a daily cycle and a filling disk, `web-2`
 * quiet with a data disk that fills, `db-1` silent for the last 6 hours of the
 * period with a data disk that was filling and got cleaned. One point a
 * minute over two periods ending at `endMillis`.
 */
export function fleetPoints(endMillis: number, periodMillis: number): GaugePoint[] {
  const points: GaugePoint[] = [];
  const start = endMillis - 2 * periodMillis;
  for (let t = start; t < endMillis; t += 60_000) {
    const dayPhase = Math.sin((2 * Math.PI * (t % 86_400_000)) / 86_400_000);
    const progress = (t - start) / (2 * periodMillis);
    for (const agent of ['web-1', 'web-2', 'db-1']) {
      if (agent === 'db-1' && t >= endMillis - 6 * 3_600_000) continue;
      const busy = agent === 'web-1' ? 0.55 + 0.25 * dayPhase : agent === 'web-2' ? 0.12 + 0.02 * dayPhase : 0.35;
      points.push({ agent, name: 'system.cpu.utilization', value: busy, timeMillis: t });
      points.push({ agent, name: 'system.memory.utilization', value: agent === 'db-1' ? 0.8 : 0.4 + 0.1 * dayPhase, timeMillis: t, attributes: { state: 'used' } });
      const disk = agent === 'web-1' ? 0.5 + 0.3 * progress : 0.3;
      points.push({ agent, name: 'system.filesystem.utilization', value: disk, timeMillis: t, attributes: { device: 'sda1', mountpoint: '/' } });
      // Data disks that rise 40 points over the previous period, to 90 %: full a quarter period in on that trend.
      // web-2's goes on rising and fills; db-1's is cleaned at the period's start.
      const rising = 0.5 + 0.8 * progress;
      if (agent === 'web-2') points.push({ agent, name: 'system.filesystem.utilization', value: Math.min(1, rising), timeMillis: t, attributes: { device: 'sdb1', mountpoint: '/data' } });
      if (agent === 'db-1') points.push({ agent, name: 'system.filesystem.utilization', value: progress < 0.5 ? rising : 0.4, timeMillis: t, attributes: { device: 'sdb1', mountpoint: '/var' } });
    }
  }
  return points;
}
