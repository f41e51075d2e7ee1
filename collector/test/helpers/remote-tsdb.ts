import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { freePort } from '@sloth/core';

/**
 * A real remote-write receiver started by a test: VictoriaMetrics
 * (`/usr/bin/victoria-metrics`) or Prometheus with the remote-write receiver
 * on. Stopping and starting again keeps the port and the data directory, so
 * a test can make an outage of the remote.
 */
export class RemoteTsdb {
  private child: ChildProcess | undefined;
  private output = '';

  private constructor(
    readonly kind: 'victoria-metrics' | 'prometheus',
    readonly port: number,
    private readonly dataDir: string,
  ) {}

  static async create(kind: 'victoria-metrics' | 'prometheus', dir: string): Promise<RemoteTsdb> {
    const tsdb = new RemoteTsdb(kind, await freePort(), join(dir, kind));
    mkdirSync(tsdb.dataDir, { recursive: true });
    await tsdb.start();
    return tsdb;
  }

  get baseUrl(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get writeUrl(): string {
    return `${this.baseUrl}/api/v1/write`;
  }

  async start(): Promise<void> {
    const args =
      this.kind === 'victoria-metrics'
        ? ['-httpListenAddr', `127.0.0.1:${this.port}`, '-storageDataPath', this.dataDir, '-retentionPeriod', '100y', '-search.latencyOffset', '0s', '-loggerLevel', 'ERROR']
        : ['--web.enable-remote-write-receiver', `--web.listen-address=127.0.0.1:${this.port}`, `--storage.tsdb.path=${this.dataDir}`, `--config.file=${join(this.dataDir, '..', 'prometheus-empty.yml')}`, '--log.level=error'];
    if (this.kind === 'prometheus') {
      const { writeFileSync } = await import('node:fs');
      writeFileSync(join(this.dataDir, '..', 'prometheus-empty.yml'), 'global:\n  scrape_interval: 1m\nscrape_configs: []\n');
    }
    const binary = this.kind === 'victoria-metrics' ? '/usr/bin/victoria-metrics' : 'prometheus';
    const child = spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout?.on('data', (c: Buffer) => (this.output += c.toString()));
    child.stderr?.on('data', (c: Buffer) => (this.output += c.toString()));
    this.child = child;
    const ready = this.kind === 'victoria-metrics' ? '/health' : '/-/ready';
    const deadline = Date.now() + 60_000;
    while (Date.now() < deadline) {
      if (child.exitCode !== null) break;
      try {
        const response = await fetch(`${this.baseUrl}${ready}`);
        await response.arrayBuffer();
        if (response.ok) return;
      } catch {
        // not listening yet
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    child.kill('SIGKILL');
    throw new Error(`${this.kind} did not start on port ${this.port}:\n${this.output}`);
  }

  async stop(): Promise<void> {
    const child = this.child;
    if (child === undefined || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    await exited;
    this.child = undefined;
  }

  /** Every sample of the series whose name is `name`, as `labels → [timestampMillis, value][]`. */
  async samples(name: string): Promise<Map<string, Array<[number, number]>>> {
    const out = new Map<string, Array<[number, number]>>();
    if (this.kind === 'victoria-metrics') {
      await fetch(`${this.baseUrl}/internal/force_flush`).then((r) => r.arrayBuffer());
      const response = await fetch(`${this.baseUrl}/api/v1/export?match[]=${encodeURIComponent(name)}&start=0`);
      const text = await response.text();
      if (!response.ok) throw new Error(`export: ${response.status} ${text}`);
      for (const line of text.split('\n')) {
        if (line.trim() === '') continue;
        const row = JSON.parse(line) as { metric: Record<string, string>; values: number[]; timestamps: number[] };
        out.set(labelsKey(row.metric), row.timestamps.map((t, i) => [t, row.values[i] as number]));
      }
      return out;
    }
    // Prometheus: a range selector over the past hour returns the raw samples.
    const response = await fetch(`${this.baseUrl}/api/v1/query?query=${encodeURIComponent(`${name}[1h]`)}`);
    const body = (await response.json()) as { status: string; data: { result: Array<{ metric: Record<string, string>; values: Array<[number, string]> }> } };
    if (body.status !== 'success') throw new Error(`query: ${JSON.stringify(body)}`);
    for (const row of body.data.result) out.set(labelsKey(row.metric), row.values.map(([t, v]) => [Math.round(t * 1000), Number(v)]));
    return out;
  }
}

function labelsKey(labels: Record<string, string>): string {
  return Object.keys(labels)
    .sort()
    .map((k) => `${k}=${labels[k] ?? ''}`)
    .join(',');
}
