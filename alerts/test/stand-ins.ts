import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Alert, Notification } from '../src/index.js';
import { fingerprint, type AlertLabels } from '../src/labels.js';
import { matchRoutes } from '../src/routing.js';
import { parseAlertsFile } from '../src/index.js';

export interface RecordedRequest {
  method: string;
  path: string;
  headers: IncomingMessage['headers'];
  body: string;
  json: unknown;
}

export interface CannedAnswer {
  status: number;
  headers?: Record<string, string>;
  body?: unknown;
}

/**
 * A local HTTP server standing in for Slack (or any webhook receiver): it
 * records every request and answers from a queue of canned answers per path
 * (the default answer when the queue is empty).
 */
export class StandIn {
  readonly requests: RecordedRequest[] = [];
  private readonly queues = new Map<string, CannedAnswer[]>();
  private server: Server | undefined;
  url = '';
  fallback: (request: RecordedRequest) => CannedAnswer = () => ({ status: 200, body: 'ok' });

  answer(path: string, ...answers: CannedAnswer[]): void {
    this.queues.set(path, [...(this.queues.get(path) ?? []), ...answers]);
  }

  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        let json: unknown;
        try {
          json = JSON.parse(body);
        } catch {
          json = undefined;
        }
        const record: RecordedRequest = { method: req.method ?? '', path: (req.url ?? '').split('?')[0] ?? '', headers: req.headers, body, json };
        this.requests.push(record);
        const canned = this.queues.get(record.path)?.shift() ?? this.fallback(record);
        res.writeHead(canned.status, { 'content-type': typeof canned.body === 'string' ? 'text/plain' : 'application/json', ...canned.headers });
        res.end(typeof canned.body === 'string' ? canned.body : JSON.stringify(canned.body ?? {}));
      });
    });
    await new Promise<void>((resolve) => this.server?.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server?.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => (this.server === undefined ? resolve() : this.server.close(() => resolve())));
  }
}

export function testAlert(labels: AlertLabels, extra: Partial<Alert> = {}): Alert {
  return {
    fingerprint: fingerprint(labels),
    labels,
    annotations: {},
    status: 'firing',
    startsAtMillis: Date.UTC(2026, 0, 5, 12),
    endsAtMillis: undefined,
    updatedAtMillis: Date.UTC(2026, 0, 5, 12),
    value: undefined,
    expectedLow: undefined,
    expectedHigh: undefined,
    flapping: false,
    source: 'rule',
    generatorUrl: undefined,
    ...extra,
  };
}

const route = matchRoutes(parseAlertsFile('{}').route, {})[0];

export function testNotification(firing: Alert[], resolved: Alert[] = [], groupKey = 'g1'): Notification {
  if (route === undefined) throw new Error('no route');
  return { receiver: 'team', groupKey, groupLabels: { alertname: firing[0]?.labels.alertname ?? resolved[0]?.labels.alertname ?? 'x' }, route, firing, resolved, newlyFiring: firing, atMillis: Date.UTC(2026, 0, 5, 12, 1) };
}
