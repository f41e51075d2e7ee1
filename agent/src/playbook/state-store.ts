import { randomUUID } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { SlothError } from '@sloth/core';
import type { PlaybookStateStore } from './types.js';

/**
 * The per-agent playbook state: one JSON file in the agent's state
 * directory, written atomically (temp file + rename). Operations are
 * serialised in-process, so `incr` and `cas` are atomic for one agent.
 */
export class FileStateStore implements PlaybookStateStore {
  private readonly filePath: string;
  private data: Record<string, unknown> | undefined;
  private queue: Promise<unknown> = Promise.resolve();

  constructor(filePath: string) {
    this.filePath = filePath;
  }

  get(key: string): Promise<unknown> {
    return this.serial(async (data) => structuredClone(data[key]));
  }

  set(key: string, value: unknown): Promise<void> {
    return this.serial(async (data) => {
      if (value === undefined) delete data[key];
      else data[key] = structuredClone(value);
      await this.persist(data);
    });
  }

  incr(key: string, by: number): Promise<number> {
    return this.serial(async (data) => {
      const current = data[key] ?? 0;
      if (typeof current !== 'number') throw new SlothError('SLOTH_ERR_PLAYBOOK', `state.incr: key '${key}' holds a ${typeof current}, not a number`);
      const next = current + by;
      data[key] = next;
      await this.persist(data);
      return next;
    });
  }

  cas(key: string, expected: unknown, next: unknown): Promise<boolean> {
    return this.serial(async (data) => {
      if (!isDeepStrictEqual(data[key], expected)) return false;
      if (next === undefined) delete data[key];
      else data[key] = structuredClone(next);
      await this.persist(data);
      return true;
    });
  }

  private serial<T>(operation: (data: Record<string, unknown>) => Promise<T>): Promise<T> {
    const result = this.queue.then(async () => operation(await this.load()));
    this.queue = result.catch(() => undefined);
    return result;
  }

  private async load(): Promise<Record<string, unknown>> {
    if (this.data !== undefined) return this.data;
    try {
      const parsed: unknown = JSON.parse(await readFile(this.filePath, 'utf8'));
      this.data = parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed) ? (parsed as Record<string, unknown>) : {};
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') {
        throw new SlothError('SLOTH_ERR_STORAGE', `playbook state file ${this.filePath} is unreadable: ${(error as Error).message}`);
      }
      this.data = {};
    }
    return this.data;
  }

  private async persist(data: Record<string, unknown>): Promise<void> {
    await mkdir(dirname(this.filePath), { recursive: true });
    const temp = `${this.filePath}.${process.pid}.${randomUUID()}.tmp`;
    await writeFile(temp, `${JSON.stringify(data)}\n`);
    await rename(temp, this.filePath);
  }
}
