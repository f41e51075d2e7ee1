import { closeSync, existsSync, fstatSync, mkdirSync, openSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';

export interface RotatingLogFileOptions {
  readonly path: string;
  /** Size at which the file rotates. @defaultValue 10 MiB */
  readonly maxBytes?: number;
  /** Rotated files kept (`agent.log.1` … `agent.log.N`). @defaultValue 5 */
  readonly maxFiles?: number;
}

/**
 * An append-only log file rotated by size: when the next line would pass
 * `maxBytes`, `agent.log` becomes `agent.log.1`, `.1` becomes `.2`, … and
 * the file past `maxFiles` is deleted. A pino destination (`write(line)`).
 */
export class RotatingLogFile {
  readonly path: string;
  private readonly maxBytes: number;
  private readonly maxFiles: number;
  private fd: number | undefined;
  private sizeBytes = 0;

  constructor(options: RotatingLogFileOptions) {
    this.path = options.path;
    this.maxBytes = options.maxBytes ?? 10 * 1024 * 1024;
    this.maxFiles = options.maxFiles ?? 5;
    mkdirSync(dirname(this.path), { recursive: true });
    this.open();
  }

  write(line: string): boolean {
    if (this.fd === undefined) return true;
    const bytes = Buffer.byteLength(line);
    if (this.sizeBytes > 0 && this.sizeBytes + bytes > this.maxBytes) this.rotate();
    try {
      writeSync(this.fd, line);
      this.sizeBytes += bytes;
    } catch {
      // A full disk must not stop the agent; stdout and OTel still carry the line.
    }
    return true;
  }

  close(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }

  private open(): void {
    this.fd = openSync(this.path, 'a');
    this.sizeBytes = fstatSync(this.fd).size;
  }

  private rotate(): void {
    this.close();
    const name = (i: number): string => `${this.path}.${i}`;
    if (this.maxFiles === 0) {
      unlinkSync(this.path);
    } else {
      if (existsSync(name(this.maxFiles))) unlinkSync(name(this.maxFiles));
      for (let i = this.maxFiles - 1; i >= 1; i--) if (existsSync(name(i))) renameSync(name(i), name(i + 1));
      renameSync(this.path, name(1));
    }
    this.open();
  }
}
