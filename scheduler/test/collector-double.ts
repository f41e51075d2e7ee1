import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** One agent as the test collector reports it. */
export interface DoubleAgent {
  id: string;
  up?: boolean;
  cpuCores: number;
  memoryMb: number;
  labels?: Record<string, string>;
  cpu?: number;
  memory?: number;
  /** When its metrics were taken. @defaultValue now */
  metricsAtMillis?: number;
}

/**
 * A stand-in for the collector's query API (`/api/v1/agents`, `/api/v1/latest`)
 * over real HTTP, answering in the documented shapes (docs/query-api.md). The
 * scheduler may not import the collector, so its tests use this small double.
 */
export class CollectorDouble {
  agents = new Map<string, DoubleAgent>();
  /** Other latest points by series key (`name{agent="a"}`), e.g. a scaling target's demand. */
  latest = new Map<string, { agentId: string; t: number; v: number }>();
  requests = 0;
  private server: Server | undefined;
  url = '';

  set(...agents: DoubleAgent[]): this {
    for (const agent of agents) this.agents.set(agent.id, agent);
    return this;
  }

  async start(): Promise<void> {
    this.server = createServer((request, response) => {
      this.requests += 1;
      const url = new URL(request.url ?? '/', 'http://x');
      const now = Date.now();
      let body: unknown;
      if (url.pathname === '/api/v1/agents') {
        body = {
          agents: [...this.agents.values()].map((a) => ({
            id: a.id,
            principal: 'test',
            state: a.up === false ? 'down' : 'up',
            firstSeenMillis: now - 60_000,
            lastSeenMillis: now,
            attributes: {
              'sloth.agent.cpu.count': String(a.cpuCores),
              'sloth.agent.memory.total': String(a.memoryMb * 1024 * 1024),
              ...Object.fromEntries(Object.entries(a.labels ?? {}).map(([k, v]) => [`sloth.agent.label.${k}`, v])),
            },
          })),
        };
      } else if (url.pathname === '/api/v1/latest') {
        const name = url.searchParams.get('name');
        const points = [...this.agents.values()].flatMap((a) => {
          const value = name === 'system.cpu.utilization' ? a.cpu : name === 'system.memory.utilization' ? a.memory : undefined;
          if (value === undefined) return [];
          const labels: Record<string, string> = name === 'system.memory.utilization' ? { state: 'used' } : {};
          return [{ key: `${name ?? ''}{agent="${a.id}"}`, name, agentId: a.id, kind: 'gauge', unit: '1', labels, t: a.metricsAtMillis ?? now, v: value }];
        });
        for (const [key, point] of this.latest) {
          if (key.slice(0, key.indexOf('{')) === name) points.push({ key, name, agentId: point.agentId, kind: 'gauge', unit: '1', labels: {}, t: point.t, v: point.v });
        }
        body = { points };
      } else {
        response.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ code: 'SLOTH_ERR_NOT_FOUND', message: 'no route', details: {} }));
        return;
      }
      response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    });
    await new Promise<void>((resolve) => this.server?.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server?.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => (this.server === undefined ? resolve() : this.server.close(() => resolve())));
  }
}
