import { constants } from 'node:fs';
import { lstat, mkdir, open, readdir, rename, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from '@sloth/core';
import type { Signal } from './otlp-transport.js';

/** One batch kept on disk, named `<seq>-<signal>.otlp` so a directory listing sorts in send order. */
export interface SpoolFile {
  readonly seq: number;
  readonly signal: Signal;
  readonly sizeBytes: number;
  readonly path: string;
}

const namePattern = /^(\d{16})-(metrics|traces|logs)\.otlp$/;

/**
 * The files of the export spool. Writes are atomic (temp file + rename), so a crash never leaves half a
 * batch. Only regular files are ever read: a symlink, FIFO, socket, device or directory in the spool (a
 * damaged disk, a careless admin, an attacker pointing a link at a secret) is skipped with a warning,
 * never followed, never blocked on.
 */
export class DiskSpool {
  /** Highest sequence number named in the spool, skipped entries included: new batches never reuse their names. */
  highestSeq = 0;

  constructor(
    readonly dir: string,
    private readonly logger?: Logger,
  ) {}

  /** Lists the batches left by a previous run, oldest first; removes stray temp files; skips what is not a batch file. */
  async open(): Promise<SpoolFile[]> {
    await mkdir(this.dir, { recursive: true });
    const files: SpoolFile[] = [];
    for (const name of await readdir(this.dir)) {
      const path = join(this.dir, name);
      if (name.endsWith('.tmp')) {
        await unlink(path).catch(() => undefined);
        continue;
      }
      const match = namePattern.exec(name);
      if (match === null) continue;
      this.highestSeq = Math.max(this.highestSeq, Number(match[1]));
      let info;
      try {
        // lstat: a symlink is judged as itself, so a dangling or hostile link is skipped, not followed.
        info = await lstat(path);
      } catch (error) {
        this.logger?.warn({ path, err: error }, 'skipping a spool entry that cannot be examined');
        continue;
      }
      if (!info.isFile()) {
        this.logger?.warn({ path, kind: fileKind(info) }, `skipping a spool entry that is a ${fileKind(info)}, not a regular file; remove it`);
        continue;
      }
      files.push({ seq: Number(match[1]), signal: match[2] as Signal, sizeBytes: info.size, path });
    }
    return files.sort((a, b) => a.seq - b.seq);
  }

  async write(seq: number, signal: Signal, body: Uint8Array): Promise<SpoolFile> {
    const path = join(this.dir, `${String(seq).padStart(16, '0')}-${signal}.otlp`);
    const tmp = `${path}.tmp`;
    await writeFile(tmp, body, { mode: 0o600 });
    await rename(tmp, path);
    return { seq, signal, sizeBytes: body.byteLength, path };
  }

  /**
   * Reads a spooled batch. Opened without following links and without blocking (a FIFO put in place of
   * a batch would otherwise stall the export forever), and refused unless it is a regular file.
   */
  async read(file: SpoolFile): Promise<Uint8Array> {
    const handle = await open(file.path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
    try {
      const info = await handle.stat();
      if (!info.isFile()) throw new Error(`spool entry ${file.path} is a ${fileKind(info)}, not a regular file`);
      return new Uint8Array(await handle.readFile());
    } finally {
      await handle.close();
    }
  }

  async remove(file: SpoolFile): Promise<void> {
    await unlink(file.path).catch((error: NodeJS.ErrnoException) => {
      if (error.code !== 'ENOENT') throw error;
    });
  }
}

function fileKind(info: { isDirectory(): boolean; isSymbolicLink(): boolean; isFIFO(): boolean; isSocket(): boolean; isFile(): boolean }): string {
  if (info.isDirectory()) return 'directory';
  if (info.isSymbolicLink()) return 'symbolic link';
  if (info.isFIFO()) return 'FIFO';
  if (info.isSocket()) return 'socket';
  return info.isFile() ? 'regular file' : 'device';
}
