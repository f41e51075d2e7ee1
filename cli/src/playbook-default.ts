import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The scheduler's configured default (`playbooks` in scheduler/src/config.ts). */
const configuredDefault = './playbooks';

/**
 * The playbooks shipped with Sloth: `playbooks/` at the top of the checkout, found by walking up from
 * this module (cli/src under the tests, cli/dist/src when built) to the root package `sloth`.
 */
export const shippedPlaybooks = findShippedPlaybooks(dirname(fileURLToPath(import.meta.url)));

function findShippedPlaybooks(start: string): string {
  let directory = start;
  for (let level = 0; level < 4; level += 1) {
    directory = dirname(directory);
    try {
      const manifest = JSON.parse(readFileSync(join(directory, 'package.json'), 'utf8')) as { name?: unknown };
      if (manifest.name === 'sloth') return join(directory, 'playbooks');
    } catch {
      // No readable package.json at this level: go on up.
    }
  }
  return join(start, 'playbooks-not-found');
}

/**
 * The playbook directory a role uses. What the user named (flag or config file) is used as given, and
 * fails later with its own error if it cannot be read. Only when nobody named one and `./playbooks`
 * does not exist in the working directory does the scheduler fall back to the playbooks shipped with
 * Sloth, so `sloth up` works from any directory; `fallback` says so for the start-up lines.
 */
export function playbookDirectory(flag: string | undefined, configured: string, cwd: string = process.cwd(), shipped: string = shippedPlaybooks): { directory: string; fallback: boolean } {
  if (flag !== undefined || configured !== configuredDefault) return { directory: configured, fallback: false };
  if (existsSync(resolve(cwd, configuredDefault)) || !existsSync(shipped)) return { directory: configured, fallback: false };
  return { directory: shipped, fallback: true };
}
