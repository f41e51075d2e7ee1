import { createServer, Socket } from 'node:net';

/** Asks the OS for a free TCP port on 127.0.0.1. */
export async function freePort(): Promise<number> {
  return await new Promise((resolvePort, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolvePort(port));
    });
  });
}

/** True when something accepts TCP connections on host:port within the timeout. */
export async function canConnect(host: string, port: number, timeoutMillis = 500): Promise<boolean> {
  return await new Promise((resolveConnect) => {
    const socket = new Socket();
    const done = (ok: boolean): void => {
      socket.destroy();
      resolveConnect(ok);
    };
    socket.setTimeout(timeoutMillis, () => done(false));
    socket.once('error', () => done(false));
    socket.connect(port, host, () => done(true));
  });
}

/** Resolves after `millis`. */
export async function sleep(millis: number): Promise<void> {
  await new Promise((r) => setTimeout(r, millis));
}
