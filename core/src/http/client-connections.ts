import type { Server } from 'node:net';
import type { Logger } from '../logger.js';

/** Fewest milliseconds between two warnings about clients refused for holding too many connections. */
const warnEveryMillis = 60_000;

/**
 * Caps the connections one client address holds open on a server at once. A connection past the cap is
 * closed as soon as it is accepted, so one client (a slow-loris holding sockets it never finishes a request
 * on) cannot take every slot of the server's `maxConnections` and lock everyone else out.
 */
export function capConnectionsPerClient(server: Server, options: { maxPerClient: number; serverName: string; logger: Logger }): void {
  const open = new Map<string, number>();
  let lastWarnedAt = Number.NEGATIVE_INFINITY;
  server.on('connection', (socket) => {
    // A socket already reset by its peer has no address left; it is closing anyway.
    const client = socket.remoteAddress;
    if (client === undefined) return;
    const held = open.get(client) ?? 0;
    if (held >= options.maxPerClient) {
      socket.destroy();
      const now = Date.now();
      if (now - lastWarnedAt >= warnEveryMillis) {
        lastWarnedAt = now;
        options.logger.warn(
          { client, maxConnectionsPerClient: options.maxPerClient },
          `the ${options.serverName} closed a connection from ${client}: it already holds ${held} (maxConnectionsPerClient); agents behind one NAT share an address, so raise the limit if they are many (logged at most once a minute)`,
        );
      }
      return;
    }
    open.set(client, held + 1);
    socket.once('close', () => {
      const left = (open.get(client) ?? 1) - 1;
      if (left === 0) open.delete(client);
      else open.set(client, left);
    });
  });
}
