import { closeSync, openSync, writeSync } from 'node:fs';

/** Fills the file system holding `path` to the last byte (1 MiB, then 4 KiB, then single bytes until ENOSPC). */
export function fillFileSystem(path: string): void {
  const fd = openSync(path, 'w');
  try {
    for (const chunk of [Buffer.alloc(1 << 20, 7), Buffer.alloc(4096, 7), Buffer.alloc(1, 7)]) {
      try {
        for (;;) writeSync(fd, chunk);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'ENOSPC') throw error;
      }
    }
  } finally {
    closeSync(fd);
  }
}
