import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { RedisServer } from '../../src/index.js';

/** The built CLI (`npx tsc -b` first): the collector runs as its real process, not imported, so core stays below every service. */
const cliPath = fileURLToPath(new URL('../../../cli/dist/src/main.js', import.meta.url));

/** A real `sloth collector` with its own Redis, data dir and token, on free ports. */
export class CollectorHarness {
  private constructor(
    readonly url: string,
    readonly token: string,
    private readonly child: ChildProcess,
    private readonly redis: RedisServer,
    private readonly dir: string,
  ) {}

  static async start(token = 'test-token-for-query-client'): Promise<CollectorHarness> {
    const dir = mkdtempSync(join(tmpdir(), 'sloth-query-client-'));
    const redis = await RedisServer.start({ dir: join(dir, 'redis') });
    const args = [cliPath, 'collector', '--data-dir', join(dir, 'data'), '--redis-url', redis.url, '--redis-prefix', `qc${process.pid}:`, '--port', '0', '--metrics-port', '0', '--host', '127.0.0.1', '--log-level', 'warn', '--token', token];
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout?.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.stderr?.on('data', (chunk: Buffer) => (err += chunk.toString()));
    for (let i = 0; i < 600; i++) {
      const match = /OTLP\/HTTP on (\S+)\/v1\//.exec(out);
      if (match !== null) {
        return new CollectorHarness(match[1] as string, token, child, redis, dir);
      }
      if (child.exitCode !== null) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    child.kill('SIGKILL');
    redis.kill();
    throw new Error(`collector did not start:\n${out}\n${err}`);
  }

  /** Posts OTLP/JSON gauge points: `{ agent, name, value, timeMillis, attributes }`. */
  async sendGauges(points: ReadonlyArray<{ agent: string; name: string; value: number; timeMillis: number; attributes?: Record<string, string> }>): Promise<void> {
    const byAgent = new Map<string, typeof points[number][]>();
    for (const p of points) byAgent.set(p.agent, [...(byAgent.get(p.agent) ?? []), p]);
    const body = {
      resourceMetrics: [...byAgent].map(([agent, list]) => ({
        resource: { attributes: [{ key: 'service.instance.id', value: { stringValue: agent } }] },
        scopeMetrics: [
          {
            metrics: [...new Set(list.map((p) => p.name))].map((name) => ({
              name,
              unit: '1',
              gauge: {
                dataPoints: list
                  .filter((p) => p.name === name)
                  .map((p) => ({
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
    const response = await fetch(`${this.url}/v1/metrics`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${this.token}` },
      body: JSON.stringify(body),
    });
    if (!response.ok) throw new Error(`OTLP export failed: ${response.status} ${await response.text()}`);
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
