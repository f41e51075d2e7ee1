import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** The built CLI; process tests need `npx tsc -b` first. */
export const cliPath = fileURLToPath(new URL('../../../cli/dist/src/main.js', import.meta.url));

export interface CollectorProcessOptions {
  readonly dataDir: string;
  readonly redisUrl: string;
  readonly redisPrefix: string;
  /** `--token` values (SECRET[:name]); none means --insecure-no-auth. */
  readonly tokens?: readonly string[];
  readonly extraArgs?: readonly string[];
  /** Ports; 0 (the default) lets the OS pick free ones and the test reads them from the output. */
  readonly port?: number;
  readonly metricsPort?: number;
}

/** A `sloth collector` child process. */
export class CollectorProcess {
  stdout = '';
  stderr = '';
  otlpUrl = '';
  metricsUrl = '';
  readonly child: ChildProcess;
  private readonly exited: Promise<number | null>;

  private constructor(child: ChildProcess) {
    this.child = child;
    this.exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
    child.stdout?.on('data', (chunk: Buffer) => {
      this.stdout += chunk.toString();
    });
    child.stderr?.on('data', (chunk: Buffer) => {
      this.stderr += chunk.toString();
    });
  }

  static async start(options: CollectorProcessOptions): Promise<CollectorProcess> {
    const args = [
      cliPath,
      'collector',
      '--data-dir', options.dataDir,
      '--redis-url', options.redisUrl,
      '--redis-prefix', options.redisPrefix,
      '--port', String(options.port ?? 0),
      '--metrics-port', String(options.metricsPort ?? 0),
      '--host', '127.0.0.1',
      '--log-level', 'warn',
      ...(options.tokens === undefined || options.tokens.length === 0 ? ['--insecure-no-auth'] : options.tokens.flatMap((t) => ['--token', t])),
      ...(options.extraArgs ?? []),
    ];
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const proc = new CollectorProcess(child);
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline) {
      const otlp = /OTLP\/HTTP on (\S+)\/v1\//.exec(proc.stdout);
      const metrics = /Prometheus exposition: (\S+)/.exec(proc.stdout);
      if (otlp !== null && metrics !== null) {
        proc.otlpUrl = otlp[1] as string;
        proc.metricsUrl = metrics[1] as string;
        return proc;
      }
      if (child.exitCode !== null) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    child.kill('SIGKILL');
    throw new Error(`collector did not start:\n${proc.stdout}\n${proc.stderr}`);
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Sends a signal and waits for the process to exit. */
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> {
    if (this.running) this.child.kill(signal);
    return await this.exited;
  }
}

/** JSON GET against the query API. */
export async function getJson<T>(url: string, token?: string): Promise<T> {
  const response = await fetch(url, { headers: token === undefined ? {} : { authorization: `Bearer ${token}` } });
  if (!response.ok) throw new Error(`GET ${url}: ${response.status} ${await response.text()}`);
  return (await response.json()) as T;
}

/** Polls until `check` returns a value that is not undefined (or throws after the timeout). */
export async function eventually<T>(check: () => Promise<T | undefined>, timeoutMillis = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMillis;
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (error) {
      lastError = error;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`condition not met within ${timeoutMillis} ms${lastError === undefined ? '' : `: ${lastError instanceof Error ? lastError.message : JSON.stringify(lastError)}`}`);
}
