import { closeSync, constants, fstatSync, openSync, readSync, statSync, type Stats } from 'node:fs';

/**
 * Reading a file a user named (a token file, a config file, a command's input) without the two ways
 * such a read goes wrong: a FIFO, a terminal or another character device blocks the read for ever
 * (or, like /dev/zero, never ends), and a file far larger than what it should hold is read whole
 * before anything checks it. One place decides what is a regular file and how the refusal reads,
 * so every caller says the same thing: `<path> is not a regular file (a FIFO)`.
 */

/** What a path that is not a regular file is (`a FIFO`, `a directory`…), or undefined for a regular file. */
export function specialFileKind(stats: Stats): string | undefined {
  if (stats.isFile()) return undefined;
  if (stats.isDirectory()) return 'a directory';
  if (stats.isFIFO()) return 'a FIFO';
  if (stats.isSocket()) return 'a socket';
  if (stats.isCharacterDevice()) return 'a character device';
  if (stats.isBlockDevice()) return 'a block device';
  return 'not a file';
}

/** `is not a regular file (a FIFO)` for a path that is not a regular file; undefined for one that is. */
export function notRegularFileProblem(stats: Stats | undefined): string | undefined {
  const kind = stats === undefined ? undefined : specialFileKind(stats);
  return kind === undefined ? undefined : `is not a regular file (${kind})`;
}

function statOrUndefined(path: string): Stats | undefined {
  try {
    return statSync(path);
  } catch {
    return undefined;
  }
}

/** A byte count as messages show it: `1.0 MiB`, `512 KiB`, `37 bytes`. */
export function formatBytes(bytes: number): string {
  if (bytes >= 1024 * 1024) return `${(bytes / (1024 * 1024)).toFixed(1)} MiB`;
  if (bytes >= 1024) return `${Math.floor(bytes / 1024)} KiB`;
  return `${bytes} bytes`;
}

/** The outcome of {@link readRegularFile}: the bytes, or why they were not read (the message follows the path). */
export type RegularFileRead =
  | { readonly ok: true; readonly bytes: Buffer; readonly stats: Stats }
  | { readonly ok: false; readonly reason: 'missing' | 'not-regular' | 'too-large' | 'refused' | 'unreadable'; readonly problem: string };

export interface ReadRegularFileOptions {
  /** Largest file read; a larger one is refused naming both sizes, before any byte is read. */
  readonly maxBytes: number;
  /** A caller's own check on the opened file (a token file's permissions); its text is the problem. */
  readonly check?: (stats: Stats) => string | undefined;
}

/**
 * Reads a whole regular file of at most `maxBytes`. The file is opened without blocking and checked on
 * the open descriptor, so a FIFO is refused (never waited on) and a file swapped for another between a
 * check and the read cannot slip through. It is read to its end, not to the size fstat gave (a `/proc`
 * file reports 0), and refused once it passes the limit. Problems read after the path:
 * `${path} ${result.problem}`.
 */
export function readRegularFile(path: string, options: ReadRegularFileOptions): RegularFileRead {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return { ok: false, reason: 'missing', problem: 'does not exist' };
    // A socket (or a device without a driver) cannot be opened at all: say what it is rather than the errno.
    const notRegular = code === 'ENXIO' ? notRegularFileProblem(statOrUndefined(path)) : undefined;
    if (notRegular !== undefined) return { ok: false, reason: 'not-regular', problem: notRegular };
    return { ok: false, reason: 'unreadable', problem: `cannot be read (${code ?? (error as Error).message})` };
  }
  try {
    const stats = fstatSync(fd);
    const notRegular = notRegularFileProblem(stats);
    if (notRegular !== undefined) return { ok: false, reason: 'not-regular', problem: notRegular };
    if (stats.size > options.maxBytes) {
      return { ok: false, reason: 'too-large', problem: `is ${formatBytes(stats.size)}, more than the ${formatBytes(options.maxBytes)} it may hold; is it the right file?` };
    }
    const refused = options.check?.(stats);
    if (refused !== undefined) return { ok: false, reason: 'refused', problem: refused };
    // Read to the end, not to fstat's size: a file that grew since (or a /proc file that reports 0) is
    // caught at one byte over the limit instead of read on.
    const chunkBytes = Math.max(64 * 1024, Math.min(stats.size, options.maxBytes) + 1);
    const chunks: Buffer[] = [];
    let total = 0;
    for (;;) {
      const chunk = Buffer.allocUnsafe(chunkBytes);
      const read = readSync(fd, chunk, 0, chunk.length, null);
      if (read === 0) break;
      chunks.push(chunk.subarray(0, read));
      total += read;
      if (total > options.maxBytes) {
        return { ok: false, reason: 'too-large', problem: `is more than the ${formatBytes(options.maxBytes)} it may hold (it grew while being read); is it the right file?` };
      }
    }
    const bytes = Buffer.concat(chunks, total);
    return { ok: true, bytes, stats };
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    return { ok: false, reason: 'unreadable', problem: `cannot be read (${code ?? (error as Error).message})` };
  } finally {
    closeSync(fd);
  }
}
