import { spawn, type ChildProcess } from 'node:child_process';
import { request as httpRequest } from 'node:http';
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

/**
 * One POST over node:http that returns the server's answer even when the server answers before the
 * whole body is sent and closes the connection (a 413 for a declared oversized body). fetch only reports
 * the EPIPE then, and the status is lost. The body is written in chunks, and writing stops once an
 * answer has arrived.
 */
async function postOnce(url: string, headers: Record<string, string>, body: Uint8Array | string): Promise<Response> {
  const target = new URL(url);
  const payload = typeof body === 'string' ? Buffer.from(body) : Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  return await new Promise<Response>((resolve, reject) => {
    let answered = false;
    let failure: Error | undefined;
    const req = httpRequest(
      { host: target.hostname, port: target.port, path: `${target.pathname}${target.search}`, method: 'POST', headers: { ...headers, 'content-length': String(payload.length) }, agent: false },
      (res) => {
        answered = true;
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => {
          const responseHeaders = new Headers();
          for (const [name, value] of Object.entries(res.headers)) if (value !== undefined) responseHeaders.set(name, Array.isArray(value) ? value.join(', ') : value);
          resolve(new Response(Buffer.concat(chunks), { status: res.statusCode ?? 0, headers: responseHeaders }));
        });
        res.on('error', reject);
      },
    );
    req.on('error', (error: NodeJS.ErrnoException) => {
      if (answered) return;
      // The server may close while the body is still being written; give its answer a moment to be read.
      failure = error;
      setTimeout(() => {
        if (!answered) reject(error);
      }, 2_000);
    });
    req.flushHeaders();
    const chunkBytes = 64 * 1024;
    const write = async (): Promise<void> => {
      for (let at = 0; at < payload.length && !answered && failure === undefined; at += chunkBytes) {
        if (!req.write(payload.subarray(at, at + chunkBytes))) await new Promise((r) => req.once('drain', r));
        // Yield so an early answer is read before the server's close (a reset would discard it).
        if (payload.length > chunkBytes) await new Promise((r) => setTimeout(r, 2));
      }
      if (!answered && failure === undefined) req.end();
    };
    void write();
  });
}

/**
 * POSTs, retrying a load-shedding 503 (the collector says it is saturated or overloaded and sends
 * Retry-After) up to `attempts` times, waiting what Retry-After asks (capped at 5 s). Under load a
 * refused write is the correct answer, not a failure; any other status, including a 503 that is not
 * load shedding (e.g. "could not make the data durable"), is returned at once so the test still
 * sees it. The returned response's body is unread.
 */
export async function postRetrying(url: string, init: { headers: Record<string, string>; body: Uint8Array | string }, attempts = 8): Promise<Response> {
  for (let attempt = 1; ; attempt++) {
    const response = await postOnce(url, init.headers, init.body);
    if (response.status !== 503 || attempt >= attempts) return response;
    const retryAfter = response.headers.get('retry-after');
    const text = Buffer.from(await response.clone().arrayBuffer()).toString('latin1');
    if (retryAfter === null || !/saturated|overloaded/.test(text)) return response;
    await response.arrayBuffer();
    const seconds = Number(retryAfter);
    await new Promise((r) => setTimeout(r, Math.min(Number.isFinite(seconds) && seconds > 0 ? seconds * 1000 : 1000, 5_000)));
  }
}

/**
 * Points stored per request id, every series of `agent` read through the query API. Request `r` wrote
 * the value `valueOf(r, i)` to series `i` at `baseMillis + r` seconds; any other value throws.
 */
export async function storedRequests(
  collector: CollectorProcess,
  options: { agent: string; baseMillis: number; lastRequest: number; valueOf: (request: number, series: number) => number },
): Promise<Map<number, number>> {
  const { agent, baseMillis, lastRequest, valueOf } = options;
  const series = await getJson<{ series: Array<{ key: string; labels: Record<string, string> }> }>(`${collector.otlpUrl}/api/v1/series?agent=${agent}`);
  const seen = new Map<number, number>();
  for (const s of series.series) {
    const q = new URLSearchParams({ series: s.key, from: String(baseMillis - 1), to: String(baseMillis + (lastRequest + 1) * 1000) });
    const answer = await getJson<{ points: Array<{ t: number; v: number }> }>(`${collector.otlpUrl}/api/v1/samples?${q.toString()}`);
    for (const p of answer.points) {
      const request = Math.round((p.t - baseMillis) / 1000);
      if (p.v !== valueOf(request, Number(s.labels.i))) throw new Error(`series ${s.key} has value ${p.v} at request ${request}`);
      seen.set(request, (seen.get(request) ?? 0) + 1);
    }
  }
  return seen;
}
