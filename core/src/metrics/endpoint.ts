import { createServer, type Server } from 'node:http';
import { SlothError } from '../errors.js';
import { prometheusContentType } from './prometheus-text.js';

export interface MetricsEndpointOptions {
  readonly host: string;
  /** 0 picks a free port (see {@link MetricsEndpoint.port}). */
  readonly port: number;
  /** The exposition text of one scrape. */
  readonly render: () => string | Promise<string>;
  /** What to tell the user when the port is taken: which role, which flag. */
  readonly portInUseMessage: (port: number) => string;
}

/**
 * `GET /metrics` for a role that has no HTTP server of its own (the agent,
 * analytics). Everything else answers 404 or 405; a render that throws
 * answers 500 with the reason, and the role goes on.
 */
export class MetricsEndpoint {
  private server: Server | undefined;
  private boundPort = 0;

  constructor(private readonly options: MetricsEndpointOptions) {}

  /** The port actually bound (useful when configured with port 0). */
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
      Promise.resolve()
        .then(this.options.render)
        .then(
          (body) => {
            response.writeHead(200, { 'content-type': prometheusContentType });
            response.end(request.method === 'HEAD' ? undefined : body);
          },
          (error: unknown) => {
            response.writeHead(500, { 'content-type': 'text/plain' }).end(`cannot render metrics: ${(error as Error).message}\n`);
          },
        );
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', (error: NodeJS.ErrnoException) => {
        if (error.code === 'EADDRINUSE') {
          reject(new SlothError('SLOTH_ERR_PORT_IN_USE', this.options.portInUseMessage(this.options.port), { cause: error, details: { port: this.options.port } }));
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
