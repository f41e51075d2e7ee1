import type { Writable } from 'node:stream';

const ignore = (): void => undefined;

/**
 * Writes `text` to a stream the caller owns (standard output, say) without ending it, and resolves once
 * the stream has taken it; a write error — a pipe whose reader has gone (EPIPE), a full disk — rejects
 * instead of becoming an unhandled 'error' event. A stream that failed keeps a listener that ignores
 * its further errors (Node reports the failed write to the callback and then as an event).
 */
export async function writeText(out: Writable, text: string): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const fail = (error: Error): void => {
      out.off('error', fail);
      out.on('error', ignore);
      reject(error);
    };
    out.on('error', fail);
    out.write(text, (error) => {
      if (error) {
        fail(error);
        return;
      }
      out.off('error', fail);
      resolve();
    });
  });
}
