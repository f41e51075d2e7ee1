/** What the ingest benchmark's load generator sends and records. */
import { request, type Agent } from 'node:http';

/** What one measured phase saw: every latency, the accepted ones, statuses and accepted points. */
export class LoadStats {
  measuring = false;
  readonly latencies: number[] = [];
  readonly acceptedLatencies: number[] = [];
  readonly statuses = new Map<number, number>();
  acceptedPoints = 0;

  constructor(private readonly pointsPerRequest: number) {}

  add(result: { status: number; millis: number }): void {
    this.latencies.push(result.millis);
    this.statuses.set(result.status, (this.statuses.get(result.status) ?? 0) + 1);
    if (result.status < 200 || result.status > 299) return;
    this.acceptedLatencies.push(result.millis);
    this.acceptedPoints += this.pointsPerRequest;
  }
}

/** POSTs a body with keep-alive and resolves to its status and latency (status 0 when the connection failed). */
export function post(httpAgent: Agent, target: URL, contentType: string, body: Buffer): Promise<{ status: number; millis: number }> {
  const started = performance.now();
  return new Promise((resolve) => {
    const req = request(
      { agent: httpAgent, host: target.hostname, port: target.port, path: target.pathname, method: 'POST', headers: { 'content-type': contentType, 'content-length': body.length } },
      (res) => {
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode ?? 0, millis: performance.now() - started }));
      },
    );
    req.on('error', () => resolve({ status: 0, millis: performance.now() - started }));
    req.end(body);
  });
}
