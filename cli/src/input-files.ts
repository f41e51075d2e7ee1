import { accessSync, constants, statSync, type Stats } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { InputError } from '@sloth/core/errors';

/**
 * Largest file a command reads whole into one string (a playbook, an event, a task spec, a demand
 * trace): a quarter of V8's longest string (0x1fffffe8 UTF-16 units, ~512 MiB), so a file under it
 * always decodes, and a larger one gets an error naming its size instead of an engine error naming
 * nothing (test/session-e-rules.md, R2).
 */
export const maxWholeFileBytes = 128 * 1024 * 1024;

function mib(bytes: number): string {
  return `${(bytes / (1024 * 1024)).toFixed(1)} MiB`;
}

function statOf(path: string, what: string): Stats | undefined {
  try {
    return statSync(path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return undefined;
    if (code === 'ENOTDIR') throw new InputError(`${what} ${path}: a part of the path is not a directory`, { path });
    throw new InputError(`${what} ${path} cannot be examined (${code ?? (error as Error).message})`, { path });
  }
}

/**
 * Checks a file a command is about to read: it exists, is a regular file (a FIFO would block the
 * command for ever, a directory fails later with an error that does not say which flag), is readable
 * and, when `maxBytes` is given, not larger. `what` names it as the user gave it, e.g. `--trace`.
 */
export function checkInputFile(path: string, what: string, options: { readonly maxBytes?: number } = {}): void {
  const stats = statOf(path, what);
  if (stats === undefined) throw new InputError(`${what} ${path} does not exist`, { path });
  if (stats.isDirectory()) throw new InputError(`${what} ${path} is a directory; give a file`, { path });
  if (!stats.isFile()) throw new InputError(`${what} ${path} is not a regular file (a FIFO, socket or device); give a file`, { path });
  try {
    accessSync(path, constants.R_OK);
  } catch (error) {
    throw new InputError(`${what} ${path} cannot be read (${(error as NodeJS.ErrnoException).code ?? 'no permission'})`, { path });
  }
  if (options.maxBytes !== undefined && stats.size > options.maxBytes) {
    throw new InputError(`${what} ${path} is ${mib(stats.size)}; this command reads it whole and takes at most ${mib(options.maxBytes)}`, { path, bytes: stats.size });
  }
}

/**
 * Checks a file a command is about to write, before any work is done: its directory exists and
 * it is not a directory, FIFO or device (writing to a FIFO blocks until something reads it).
 */
export function checkOutputFile(path: string, what: string): void {
  const stats = statOf(path, what);
  if (stats !== undefined) {
    if (stats.isDirectory()) throw new InputError(`${what} ${path} is a directory; give a file name`, { path });
    if (!stats.isFile()) throw new InputError(`${what} ${path} is not a regular file (a FIFO, socket or device); give a file name`, { path });
    return;
  }
  const parent = dirname(resolve(path));
  const dir = statOf(parent, `${what} directory`);
  if (dir === undefined) throw new InputError(`${what} ${path}: the directory ${parent} does not exist`, { path });
  if (!dir.isDirectory()) throw new InputError(`${what} ${path}: ${parent} is not a directory`, { path });
}
