import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The top of the Sloth checkout, found by walking up from this module (cli/src under the tests,
 * cli/dist/src when built) to the root package `sloth`; undefined in an install without it.
 */
export const slothRoot = findSlothRoot(dirname(fileURLToPath(import.meta.url)));

/** The playbooks shipped with Sloth (`playbooks/`). */
export const shippedPlaybooks = join(slothRoot ?? '/nonexistent', 'playbooks');

/** The alerts file shipped with Sloth (`deploy/alerts/alerts.yaml`: host CPU, memory, disk, silence, agent down, anomalies). */
export const shippedAlerts = join(slothRoot ?? '/nonexistent', 'deploy', 'alerts', 'alerts.yaml');

function findSlothRoot(start: string): string | undefined {
  let directory = start;
  for (let level = 0; level < 4; level += 1) {
    directory = dirname(directory);
    try {
      const manifest = JSON.parse(readFileSync(join(directory, 'package.json'), 'utf8')) as { name?: unknown };
      if (manifest.name === 'sloth') return directory;
    } catch {
      // No readable package.json at this level: go on up.
    }
  }
  return undefined;
}

/** A path a role uses, and whether it is the one shipped with Sloth (for the start-up lines). */
export interface ChosenPath {
  readonly path: string;
  readonly fallback: boolean;
}

/**
 * What the user named (flag or config file) is used as given, and fails later with its own error if it
 * cannot be read. Only when nobody named one and the default (`./playbooks`, `./alerts.yaml`) does not
 * exist in the working directory does the role fall back to what ships with Sloth, so `sloth up` works
 * from any directory with Sloth's own playbooks and alert rules.
 */
function withShippedFallback(flag: string | undefined, configured: string, configuredDefault: string, shipped: string, cwd: string): ChosenPath {
  if (named(flag, configured, configuredDefault)) return { path: configured, fallback: false };
  if (existsSync(resolve(cwd, configuredDefault)) || !existsSync(shipped)) return { path: configured, fallback: false };
  return { path: shipped, fallback: true };
}

/** Whether the user named the path: a flag, or a configured value (file or environment) other than the default. */
function named(flag: string | undefined, configured: string | undefined, configuredDefault: string): boolean {
  return flag !== undefined || (configured !== undefined && configured !== configuredDefault);
}

/** The scheduler's playbook directory (configured default `./playbooks`, scheduler/src/config.ts). */
export function playbookDirectory(flag: string | undefined, configured: string, cwd: string = process.cwd(), shipped: string = shippedPlaybooks): ChosenPath {
  return withShippedFallback(flag, configured, './playbooks', shipped, cwd);
}

/** Whether the user named the alerts file: then a missing one is an error, not "no rules" (nor the shipped ones). */
export function alertsRulesNamed(flag: string | undefined, configured: string | undefined): boolean {
  return named(flag, configured, './alerts.yaml');
}

/** The alerts role's rules file (configured default `./alerts.yaml`, alerts/src/config.ts). */
export function alertsRulesFile(flag: string | undefined, configured: string, cwd: string = process.cwd(), shipped: string = shippedAlerts): ChosenPath {
  return withShippedFallback(flag, configured, './alerts.yaml', shipped, cwd);
}
