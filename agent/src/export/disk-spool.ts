import { mkdir, readdir, readFile, rename, stat, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Signal } from './otlp-transport.js';

/** One batch kept on disk, named `<seq>-<signal>.otlp` so a directory listing sorts in send order. */
export interface SpoolFile {
  readonly seq: number;
  readonly signal: Signal;
  readonly sizeBytes: number;
  readonly path: string;
}

const namePattern = /^(\d{16})-(metrics|traces|logs)\.otlp$/;

/** The files of the export spool. Writes are atomic (temp file + rename), so a crash never leaves half a batch. */
export class DiskSpool {
  constructor(readonly dir: string) {}

  /** Lists the batches left by a previous run, oldest first; removes stray temp files. */
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
      const info = await stat(path);
      files.push({ seq: Number(match[1]), signal: match[2] as Signal, sizeBytes: info.size, path });
    }
    return files.sort((a, b) => a.seq - b.seq);
  }

  async write(seq: number, signal: Signal, body: Uint8Array): Promise<SpoolFile> {
    const path = join(this.dir, `${String(seq).padStart(16, '0')}-${signal}.otlp`);
    const tmp = `${path}.tmp`;
    await writeFile(tmp, body);
    await rename(tmp, path);
    return { seq, signal, sizeBytes: body.byteLength, path };
  }

  async read(file: SpoolFile): Promise<Uint8Array> {
    return new Uint8Array(await readFile(file.path));
  }

  async remove(file: SpoolFile): Promise<void> {
    await unlink(file.path).catch((error: NodeJS.ErrnoException) => {
      if (error.code !== 'ENOENT') throw error;
    });
  }
}
