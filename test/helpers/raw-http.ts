import { request as httpRequest } from 'node:http';

/** One HTTP answer, with whether the server closed the connection after it. */
export interface RawAnswer {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: string;
  /** The server announced `Connection: close` (and so ended the socket). */
  readonly closed: boolean;
}

/**
 * Sends a request with the path exactly as given (no client-side
 * normalisation of `.`/`..`, `//` or escapes, unlike fetch), on a fresh
 * connection.
 */
export async function rawRequest(
  baseUrl: string,
  method: string,
  path: string,
  options: { token?: string; body?: string | Buffer; contentType?: string } = {},
): Promise<RawAnswer> {
  const url = new URL(baseUrl);
  return new Promise<RawAnswer>((resolve, reject) => {
    const headers: Record<string, string> = {};
    if (options.token !== undefined) headers.authorization = `Bearer ${options.token}`;
    if (options.body !== undefined) {
      headers['content-type'] = options.contentType ?? 'application/json';
      headers['content-length'] = String(Buffer.byteLength(options.body));
    }
    const req = httpRequest({ host: url.hostname, port: url.port, method, path, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => {
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8'), closed: res.headers.connection === 'close' });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(options.body);
  });
}
