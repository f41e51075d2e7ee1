import { accessSync, constants, existsSync, mkdirSync, statSync, type Stats } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { Writable } from 'node:stream';
import { InputError, type ConfigProblem } from '@sloth/core/errors';
import { notRegularFileProblem } from '@sloth/core/regular-file';

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
  if (path === '') throw new InputError(`${what} is empty; give a file name`);
  const stats = statOf(path, what);
  if (stats === undefined) throw new InputError(`${what} ${path} does not exist`, { path });
  if (stats.isDirectory()) throw new InputError(`${what} ${path} is a directory; give a file`, { path });
  const notRegular = notRegularFileProblem(stats);
  if (notRegular !== undefined) throw new InputError(`${what} ${path} ${notRegular}; give a file`, { path });
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
  if (path === '') throw new InputError(`${what} is empty; give a file name`);
  const stats = statOf(path, what);
  if (stats !== undefined) {
    if (stats.isDirectory()) throw new InputError(`${what} ${path} is a directory; give a file name`, { path });
    const notRegular = notRegularFileProblem(stats);
    if (notRegular !== undefined) throw new InputError(`${what} ${path} ${notRegular}; give a file name`, { path });
    return;
  }
  const parent = dirname(resolve(path));
  const dir = statOf(parent, `${what} directory`);
  if (dir === undefined) throw new InputError(`${what} ${path}: the directory ${parent} does not exist`, { path });
  if (!dir.isDirectory()) throw new InputError(`${what} ${path}: ${parent} is not a directory`, { path });
}

/**
 * Makes the directory `path` (and its missing parents) for a command's output, or fails at once with
 * `${failure}: reason`. Level by level below the nearest existing ancestor, not Node's recursive
 * mkdir: that one loops for ever when the file system answers ENOENT for a directory whose parent
 * exists, as /proc does (test/session-e-rules.md, F2).
 */
export function makeOutputDirectory(path: string, failure: string, options: { readonly mode?: number } = {}): void {
  const missing: string[] = [];
  let current = resolve(path);
  for (;;) {
    let stats: Stats | undefined;
    try {
      stats = statSync(current);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOTDIR') throw new InputError(`${failure}: a part of the path is not a directory`, { path });
      if (code !== 'ENOENT') throw new InputError(`${failure}: ${current} cannot be examined (${code ?? (error as Error).message})`, { path });
    }
    if (stats !== undefined) {
      if (!stats.isDirectory()) throw new InputError(`${failure}: ${current} is not a directory`, { path });
      break;
    }
    missing.push(current);
    const parent = dirname(current);
    if (parent === current) break;
    current = parent;
  }
  for (const dir of missing.reverse()) {
    try {
      mkdirSync(dir, { mode: options.mode ?? 0o777 });
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      // Made meanwhile by someone else: fine if it is a directory.
      if (code === 'EEXIST' && statSync(dir, { throwIfNoEntry: false })?.isDirectory() === true) continue;
      throw new InputError(`${failure}: ${code === undefined ? (error as Error).message : `cannot make ${dir} (${code})`}`, { path });
    }
  }
}

/**
 * A file a service will read whole at its start (the alerts file), checked like {@link checkInputFile}
 * but as a configuration problem, so it is reported with the others before anything connects.
 * Undefined when the file is missing (the caller decides what that means) or fine.
 */
export function unreadableFileProblem(path: string, key: string, source: string): ConfigProblem | undefined {
  if (!existsSync(path)) return undefined;
  try {
    checkInputFile(path, key, { maxBytes: maxWholeFileBytes });
    return undefined;
  } catch (error) {
    if (!(error instanceof InputError)) throw error;
    return { key, source, value: path, message: error.message };
  }
}

/**
 * Refuses an output that is the input under another name (`./in.csv`, `a/../in.csv`, a symbolic or
 * hard link): opening the output truncates it, so a streaming command read nothing and destroyed its
 * input (session F). Same device and inode, not the same text.
 */
export function checkDistinctFiles(input: string, inputFlag: string, output: string, outputFlag: string): void {
  const a = statSync(input, { throwIfNoEntry: false });
  const b = statSync(output, { throwIfNoEntry: false });
  if (a !== undefined && b !== undefined && a.dev === b.dev && a.ino === b.ino) {
    throw new InputError(`${outputFlag} ${output} is the same file as ${inputFlag} ${input}; writing it would destroy the input: give another ${outputFlag}`, { path: output });
  }
}

/** `--output` not given, or `-`: the command writes to standard output. */
export function writesToStandardOutput(output: string | undefined): output is undefined | '-' {
  return output === undefined || output === '-';
}

/**
 * Runs `work` against standard output. When the reader goes away first (`sloth detect … | head`), the
 * pipe's EPIPE ends the work quietly, as with other command-line tools, instead of an error (main.ts
 * ignores the stream's EPIPE event). Returns undefined in that case.
 */
export async function withStandardOutput<T>(work: (out: Writable) => Promise<T>): Promise<T | undefined> {
  try {
    return await work(process.stdout);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EPIPE') throw error;
    return undefined;
  }
}
