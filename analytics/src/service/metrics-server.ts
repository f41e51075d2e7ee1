import { createServer, type Server } from 'node:http';
import { SlothError } from '@sloth/core';

/** Serves `GET /metrics` with the text the callback renders. */
export class MetricsServer {
  private server: Server | undefined;
  private boundPort = 0;

  constructor(private readonly options: { host: string; port: number; render: () => string }) {}

  /** The port actually bound (useful when configured with a free port). */
  get port(): number {
    return this.boundPort;
  }

  async start(): Promise<void> {
    const server = createServer((request, response) => {
      const path = (request.url ?? '/').split('?')[0];
      if (request.method !== 'GET' && request.method !== 'HEAD') {
        response.writeHead(405, { allow: 'GET, HEAD' }).end();
        return;
      }
      if (path !== '/metrics') {
        response.writeHead(404, { 'content-type': 'text/plain' }).end('not found: try /metrics\n');
        return;
      }
      let body: string;
      try {
        body = this.options.render();
      } catch (error) {
        response.writeHead(500, { 'content-type': 'text/plain' }).end(`cannot render metrics: ${(error as Error).message}\n`);
        return;
      }
      response.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' });
      response.end(request.method === 'HEAD' ? undefined : body);
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', (error: NodeJS.ErrnoException) => {
        if (error.code === 'EADDRINUSE') {
          reject(new SlothError('SLOTH_ERR_PORT_IN_USE', `analytics metrics port ${this.options.port} is already in use: pick another with --metrics-port (0 disables the endpoint)`, { cause: error }));
        } else reject(error);
      });
      server.listen(this.options.port, this.options.host, () => resolve());
    });
    const address = server.address();
    this.boundPort = typeof address === 'object' && address !== null ? address.port : 0;
    this.server = server;
  }

  async shutdown(): Promise<void> {
    const server = this.server;
    if (server === undefined) return;
    this.server = undefined;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
