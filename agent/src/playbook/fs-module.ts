import { lstat, readdir, realpath, rename, rm, rmdir, utimes, writeFile } from 'node:fs/promises';
import { basename, dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import type { FsPolicy } from './types.js';

export interface FsEntry {
  name: string;
  path: string;
  type: 'file' | 'dir' | 'link' | 'other';
  size: number;
  mtime_ms: number;
}

function within(root: string, path: string): boolean {
  const rel = relative(root, path);
  return rel === '' || (!rel.startsWith('..') && !isAbsolute(rel) && !rel.startsWith(`..${sep}`));
}

/**
 * Resolves a path the playbook named to a real location inside an allowed
 * root. The parent directory is resolved through symbolic links; the last
 * component itself is never followed, so a link cannot lead outside.
 */
export async function confinePath(raw: unknown, policy: FsPolicy | undefined, what: string): Promise<string> {
  if (policy === undefined || policy.allowRoots.length === 0) throw new Error(`${what}: the fs module is not enabled on this host (no allowed roots)`);
  if (typeof raw !== 'string' || !isAbsolute(raw)) throw new Error(`${what}: expects an absolute path, got ${JSON.stringify(raw)}`);
  const absolute = resolve(raw);
  const name = basename(absolute);
  let parent: string;
  try {
    parent = await realpath(dirname(absolute));
  } catch {
    throw new Error(`${what}: directory ${JSON.stringify(dirname(absolute))} does not exist`);
  }
  const full = name === '' ? parent : join(parent, name);
  for (const root of policy.allowRoots) {
    let realRoot: string;
    try {
      realRoot = await realpath(root);
    } catch {
      continue;
    }
    if (within(realRoot, full)) return full;
  }
  throw new Error(`${what}: ${JSON.stringify(raw)} is outside the allowed roots`);
}

function entryType(stats: { isFile(): boolean; isDirectory(): boolean; isSymbolicLink(): boolean }): FsEntry['type'] {
  if (stats.isSymbolicLink()) return 'link';
  if (stats.isFile()) return 'file';
  if (stats.isDirectory()) return 'dir';
  return 'other';
}

export async function fsStat(path: string): Promise<FsEntry | undefined> {
  try {
    const stats = await lstat(path);
    return { name: basename(path), path, type: entryType(stats), size: stats.size, mtime_ms: stats.mtimeMs };
  } catch {
    return undefined;
  }
}

/** Most entries `fs.list` returns; a larger directory is an error rather than a flood into the Lua state. */
export const maxListEntries = 10_000;

export async function fsList(dir: string): Promise<FsEntry[]> {
  const self = await fsStat(dir);
  // A link is not followed: it could point outside the allowed roots.
  if (self?.type !== 'dir') throw new Error(`fs.list: ${dir} is ${self === undefined ? 'missing' : `a ${self.type}, not a directory`}`);
  const names = await readdir(dir);
  if (names.length > maxListEntries) throw new Error(`fs.list: ${dir} has ${names.length} entries, more than the ${maxListEntries} a playbook may list`);
  const entries: FsEntry[] = [];
  for (const name of names.sort()) {
    const entry = await fsStat(join(dir, name));
    if (entry !== undefined) entries.push(entry);
  }
  return entries;
}

/** Removes a file or link (never follows it), or an empty directory. */
export async function fsRemove(path: string): Promise<boolean> {
  const entry = await fsStat(path);
  if (entry === undefined) return false;
  if (entry.type === 'dir') await rmdir(path);
  else await rm(path, { force: true });
  return true;
}

export async function fsRename(from: string, to: string): Promise<void> {
  await rename(from, to);
}

export async function fsTouch(path: string): Promise<void> {
  const entry = await fsStat(path);
  if (entry === undefined) {
    await writeFile(path, '', { flag: 'wx' });
    return;
  }
  if (entry.type === 'link') throw new Error(`fs.touch: ${path} is a symbolic link (not followed)`);
  const now = new Date();
  await utimes(path, now, now);
}
