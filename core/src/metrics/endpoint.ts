import { createServer, type Server, type ServerResponse } from 'node:http';
import { SlothError, type SlothErrorCode } from '../errors.js';
import { canonicalPath } from '../http/canonical-path.js';
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
      // Same path rule as createApi (docs/security.md): every spelling of /metrics is /metrics.
      const path = canonicalPath((request.url ?? '/').split('?')[0] ?? '/').toLowerCase();
      if (path !== '/metrics') {
        sendError(response, 404, 'SLOTH_ERR_NOT_FOUND', `no route ${request.method ?? 'GET'} ${path}: this port serves GET /metrics only`);
        return;
      }
      if (request.method !== 'GET' && request.method !== 'HEAD') {
        response.setHeader('allow', 'GET, HEAD');
        sendError(response, 405, 'SLOTH_ERR_BAD_REQUEST', `${request.method ?? ''} is not allowed on /metrics; use GET`);
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
            sendError(response, 500, 'SLOTH_ERR_INTERNAL', `cannot render metrics: ${(error as Error).message}`);
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

/** The standard `{ code, message, details }` error body. */
function sendError(response: ServerResponse, status: number, code: SlothErrorCode, message: string): void {
  response.writeHead(status, { 'content-type': 'application/json; charset=utf-8' }).end(JSON.stringify({ code, message, details: {} }));
}
