/** What the ingest benchmark's load generator sends and records. */
import { request, type Agent } from 'node:http';

/** One answered request: status, latency as the client saw it, and the server's `Server-Timing` phases (ms) when it sent them. */
export interface PostResult {
  readonly status: number;
  /** When the request was sent, ms since the epoch (`performance.timeOrigin + performance.now()`). */
  readonly sentAtEpochMillis: number;
  readonly millis: number;
  readonly phases?: Readonly<Record<string, number>>;
}

/** What one measured phase saw: every latency, the accepted ones, statuses and accepted points. */
export class LoadStats {
  measuring = false;
  readonly latencies: number[] = [];
  readonly acceptedLatencies: number[] = [];
  /** The server's phases of each accepted request that had them, with its latency. */
  readonly acceptedPhases: Array<{ millis: number; phases: Readonly<Record<string, number>> }> = [];
  readonly statuses = new Map<number, number>();
  acceptedPoints = 0;
  /** Every request as it came, when asked for (`--requests-log`). */
  readonly all: PostResult[] | undefined;

  constructor(
    private readonly pointsPerRequest: number,
    keepAll = false,
  ) {
    this.all = keepAll ? [] : undefined;
  }

  add(result: PostResult): void {
    this.all?.push(result);
    this.latencies.push(result.millis);
    this.statuses.set(result.status, (this.statuses.get(result.status) ?? 0) + 1);
    if (result.status < 200 || result.status > 299) return;
    this.acceptedLatencies.push(result.millis);
    this.acceptedPoints += this.pointsPerRequest;
    if (result.phases !== undefined) this.acceptedPhases.push({ millis: result.millis, phases: result.phases });
  }

  /**
   * Where the accepted requests at or above the `percentile`th latency spent their time: the mean of each
   * server phase, and `outside` (latency less every server phase: the request and answer in the sockets,
   * and the wait before the server read its headers). Undefined when the server sent no phases.
   */
  phasesAbove(percentile: number): { requests: number; meanMillis: number; phases: Record<string, number> } | undefined {
    if (this.acceptedPhases.length === 0) return undefined;
    const sorted = [...this.acceptedPhases].sort((a, b) => a.millis - b.millis);
    const slow = sorted.slice(Math.min(sorted.length - 1, Math.floor((percentile / 100) * sorted.length)));
    const sums: Record<string, number> = {};
    let total = 0;
    for (const { millis, phases } of slow) {
      total += millis;
      let inside = 0;
      for (const [name, value] of Object.entries(phases)) {
        sums[name] = (sums[name] ?? 0) + value;
        inside += value;
      }
      sums.outside = (sums.outside ?? 0) + Math.max(0, millis - inside);
    }
    const phases = Object.fromEntries(Object.entries(sums).map(([name, sum]) => [name, Number((sum / slow.length).toFixed(2))]));
    return { requests: slow.length, meanMillis: Number((total / slow.length).toFixed(2)), phases };
  }
}

/** `read;dur=1.20, decode;dur=0.50` → `{ read: 1.2, decode: 0.5 }`; undefined without the header. */
export function parseServerTiming(header: string | string[] | undefined): Record<string, number> | undefined {
  if (header === undefined) return undefined;
  const phases: Record<string, number> = {};
  for (const part of (Array.isArray(header) ? header.join(',') : header).split(',')) {
    const match = /^\s*([\w-]+)\s*;\s*dur=([\d.]+)\s*$/.exec(part);
    if (match !== null) phases[match[1] as string] = Number(match[2]);
  }
  return phases;
}

/** POSTs a body with keep-alive and resolves to its status and latency (status 0 when the connection failed). */
export function post(httpAgent: Agent, target: URL, contentType: string, body: Buffer): Promise<PostResult> {
  const started = performance.now();
  const sentAtEpochMillis = performance.timeOrigin + started;
  return new Promise((resolve) => {
    const req = request(
      { agent: httpAgent, host: target.hostname, port: target.port, path: target.pathname, method: 'POST', headers: { 'content-type': contentType, 'content-length': body.length } },
      (res) => {
        res.resume();
        const phases = parseServerTiming(res.headers['server-timing']);
        res.on('end', () => resolve({ status: res.statusCode ?? 0, sentAtEpochMillis, millis: performance.now() - started, ...(phases === undefined ? {} : { phases }) }));
      },
    );
    req.on('error', () => resolve({ status: 0, sentAtEpochMillis, millis: performance.now() - started }));
    req.end(body);
  });
}
