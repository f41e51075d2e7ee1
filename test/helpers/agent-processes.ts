import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** The built CLI; process tests need `npx tsc -b` first. */
export const cliPath = fileURLToPath(new URL('../../cli/dist/src/main.js', import.meta.url));

/** A `sloth …` child process with its output captured. */
export class SlothProcess {
  stdout = '';
  stderr = '';
  private readonly exited: Promise<number | null>;

  constructor(readonly child: ChildProcess) {
    this.exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
    child.stdout?.on('data', (chunk: Buffer) => {
      this.stdout += chunk.toString();
    });
    child.stderr?.on('data', (chunk: Buffer) => {
      this.stderr += chunk.toString();
    });
  }

  /** `ownGroup`: in a process group of its own, as a command started from a terminal is (see {@link SlothProcess.interrupt}). */
  static spawn(args: readonly string[], options: { ownGroup?: boolean; env?: NodeJS.ProcessEnv } = {}): SlothProcess {
    return new SlothProcess(spawn(process.execPath, [cliPath, ...args], { stdio: ['ignore', 'pipe', 'pipe'], detached: options.ownGroup === true, env: options.env ?? process.env }));
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  async waitForOutput(pattern: RegExp, timeoutMillis = 90_000): Promise<RegExpExecArray> {
    const deadline = Date.now() + timeoutMillis;
    while (Date.now() < deadline) {
      const match = pattern.exec(this.stdout);
      if (match !== null) return match;
      if (!this.running) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`no output matching ${String(pattern)}:\n${this.stdout}\n${this.stderr}`);
  }

  /** Sends a signal and waits for the exit code. */
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> {
    if (this.running) this.child.kill(signal);
    return await this.exited;
  }

  /** Ctrl-C as a terminal sends it: SIGINT to the whole process group of a process spawned with `ownGroup`; waits for the exit code. */
  async interrupt(): Promise<number | null> {
    if (this.running && this.child.pid !== undefined) process.kill(-this.child.pid, 'SIGINT');
    return await this.exited;
  }
}

export interface CollectorArgs {
  readonly dataDir: string;
  readonly redisUrl: string;
  readonly redisPrefix: string;
  readonly port: number;
  readonly token: string;
}

/** Starts `sloth collector` on a fixed port (so a restart keeps its address) and waits until it listens. */
export async function startCollector(a: CollectorArgs): Promise<SlothProcess> {
  const proc = SlothProcess.spawn([
    'collector',
    '--data-dir', a.dataDir,
    '--redis-url', a.redisUrl,
    '--redis-prefix', a.redisPrefix,
    '--port', String(a.port),
    '--metrics-port', '0',
    '--host', '127.0.0.1',
    '--log-level', 'warn',
    '--token', a.token,
  ]);
  await proc.waitForOutput(/OTLP\/HTTP on \S+\/v1\//);
  return proc;
}

/** JSON GET with a bearer token. */
export async function getJson<T>(url: string, token: string): Promise<T> {
  const response = await fetch(url, { headers: { authorization: `Bearer ${token}` } });
  if (!response.ok) throw new Error(`GET ${url}: ${response.status} ${await response.text()}`);
  return (await response.json()) as T;
}

/** Polls until `check` returns something other than undefined. */
export async function eventually<T>(check: () => Promise<T | undefined>, timeoutMillis = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMillis;
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (error) {
      lastError = error;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`condition not met within ${timeoutMillis} ms${lastError instanceof Error ? `: ${lastError.message}` : ''}`);
}
