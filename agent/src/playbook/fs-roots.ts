import { realpath, stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { SlothError } from '@sloth/core';

/** A configured fs root and the real path the sandbox uses for it. */
export interface FsRoot {
  root: string;
  realPath: string;
}

/** Why a configured fs root is refused. */
export interface FsRootProblem {
  root: string;
  reason: string;
}

/**
 * Checks the directories playbooks may change (`allowFs`, `--allow-fs`) once, at start: each must be an
 * existing directory, whose real path (symbolic links resolved) is not `/`, is not reached through a link
 * into a system directory (`/etc`, `/usr`, …), and is not writable by every user (another local user could
 * plant files or links there that a playbook then acts on). Returns the real paths (duplicates dropped), which the sandbox uses from then on: a link re-pointed later does not move
 * a root. Throws one `SLOTH_ERR_CONFIG` naming every bad root and why; a playbook host with a root it
 * cannot use is a configuration mistake, not something to discover at the first run.
 */
export async function checkFsRoots(roots: readonly string[]): Promise<FsRoot[]> {
  const problems: FsRootProblem[] = [];
  const resolved: FsRoot[] = [];
  for (const root of roots) {
    const checked = await checkFsRoot(root);
    if ('reason' in checked) problems.push(checked);
    else if (!resolved.some((r) => r.realPath === checked.realPath)) resolved.push(checked);
  }
  if (problems.length > 0) {
    const lines = problems.map((p) => `  - ${JSON.stringify(p.root)}: ${p.reason}`).join('\n');
    throw new SlothError('SLOTH_ERR_CONFIG', `playbook fs root${problems.length === 1 ? '' : 's'} (allowFs, --allow-fs) cannot be used:\n${lines}\nfix or remove ${problems.length === 1 ? 'it' : 'them'}; the agent does not start with a root it cannot use safely`, {
      details: { problems },
    });
  }
  return resolved;
}

/** Directories of the operating system a symbolic-link root may not lead into (named directly, they are allowed). */
const systemDirectories = ['/bin', '/boot', '/dev', '/etc', '/lib', '/lib32', '/lib64', '/proc', '/root', '/sbin', '/sys', '/usr'];

async function checkFsRoot(root: string): Promise<FsRoot | FsRootProblem> {
  let realPath: string;
  try {
    // A relative root is taken from the working directory the agent starts in; the real path says which.
    realPath = await realpath(resolve(root));
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    return { root, reason: code === 'ENOENT' ? 'does not exist (or is a link to nothing)' : `cannot be read (${code ?? (error as Error).message})` };
  }
  const via = realPath === root ? '' : ` (it resolves to ${realPath})`;
  if (realPath === '/') return { root, reason: `is the whole filesystem${via}` };
  // A link that leads into the system's own directories is most likely a mistake or a planted link; a root
  // meant to be there is named by its real path.
  if (realPath !== resolve(root) && systemDirectories.some((dir) => realPath === dir || realPath.startsWith(`${dir}/`))) {
    return { root, reason: `is a link into the system directory ${realPath}: name the real path if that is what playbooks may change` };
  }
  const stats = await stat(realPath);
  if (!stats.isDirectory()) return { root, reason: `is not a directory${via}` };
  if ((stats.mode & 0o002) !== 0) return { root, reason: `is writable by every user (mode ${(stats.mode & 0o7777).toString(8)})${via}: chmod o-w it, or name a directory only the agent's user writes to` };
  return { root, realPath };
}
