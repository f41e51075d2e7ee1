import { randomUUID } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { SlothError } from '@sloth/core/errors';
import type { PlaybookStateStore } from './types.js';

/** Caps on the playbook state, so a playbook cannot fill the agent's disk or memory through `state.set`. */
export interface StateStoreLimits {
  /** Largest value of one key, as JSON, key included. @defaultValue 64 KiB */
  maxEntryBytes: number;
  /** Largest state in total (all keys and values, as JSON). @defaultValue 1 MiB */
  maxTotalBytes: number;
}

export const defaultStateStoreLimits: StateStoreLimits = { maxEntryBytes: 64 * 1024, maxTotalBytes: 1024 * 1024 };

/**
 * The per-agent playbook state: one JSON file in the agent's state
 * directory, written atomically (temp file + rename). Operations are
 * serialised in-process, so `incr` and `cas` are atomic for one agent.
 */
export class FileStateStore implements PlaybookStateStore {
  private readonly filePath: string;
  private readonly limits: StateStoreLimits;
  private data: Record<string, unknown> | undefined;
  /** Bytes of each entry (key + JSON value), kept in step with `data`. */
  private readonly entryBytes = new Map<string, number>();
  private totalBytes = 0;
  private queue: Promise<unknown> = Promise.resolve();

  constructor(filePath: string, limits: Partial<StateStoreLimits> = {}) {
    this.filePath = filePath;
    this.limits = { ...defaultStateStoreLimits, ...limits };
  }

  get(key: string): Promise<unknown> {
    return this.serial(async (data) => structuredClone(data[key]));
  }

  set(key: string, value: unknown): Promise<void> {
    return this.serial(async (data) => {
      this.put(data, 'state.set', key, value);
      await this.persist(data);
    });
  }

  incr(key: string, by: number): Promise<number> {
    return this.serial(async (data) => {
      const current = data[key] ?? 0;
      if (typeof current !== 'number') throw new SlothError('SLOTH_ERR_PLAYBOOK', `state.incr: key '${key}' holds a ${typeof current}, not a number`);
      const next = current + by;
      this.put(data, 'state.incr', key, next);
      await this.persist(data);
      return next;
    });
  }

  cas(key: string, expected: unknown, next: unknown): Promise<boolean> {
    return this.serial(async (data) => {
      if (!isDeepStrictEqual(data[key], expected)) return false;
      this.put(data, 'state.cas', key, next);
      await this.persist(data);
      return true;
    });
  }

  /** Sets or (undefined) deletes a key, refusing a change that breaks a cap; a change that shrinks an over-cap state is let through. */
  private put(data: Record<string, unknown>, what: string, key: string, value: unknown): void {
    const before = this.entryBytes.get(key) ?? 0;
    if (value === undefined) {
      delete data[key];
      this.entryBytes.delete(key);
      this.totalBytes -= before;
      return;
    }
    const bytes = entrySize(key, value);
    if (bytes > this.limits.maxEntryBytes) {
      throw new SlothError('SLOTH_ERR_PLAYBOOK', `${what}: key '${key}' would hold ${bytes} bytes as JSON, over the ${this.limits.maxEntryBytes}-byte limit per key; store a summary instead of raw data`);
    }
    const total = this.totalBytes - before + bytes;
    if (total > this.limits.maxTotalBytes && bytes > before) {
      throw new SlothError('SLOTH_ERR_PLAYBOOK', `${what}: key '${key}' would bring the playbook state to ${total} bytes, over the ${this.limits.maxTotalBytes}-byte limit in total; delete keys no longer needed with state.set(key, nil)`);
    }
    data[key] = structuredClone(value);
    this.entryBytes.set(key, bytes);
    this.totalBytes = total;
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
    for (const [key, value] of Object.entries(this.data)) {
      const bytes = entrySize(key, value);
      this.entryBytes.set(key, bytes);
      this.totalBytes += bytes;
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

function entrySize(key: string, value: unknown): number {
  // Not JSON-encodable (a cycle cannot come from Lua, but a host could pass one) fails here with the key named.
  let json: string | undefined;
  try {
    json = JSON.stringify(value);
  } catch (error) {
    throw new SlothError('SLOTH_ERR_PLAYBOOK', `state: the value of key '${key}' is not JSON: ${(error as Error).message}`);
  }
  return Buffer.byteLength(key) + Buffer.byteLength(json ?? 'null');
}
