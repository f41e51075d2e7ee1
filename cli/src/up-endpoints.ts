import { chmodSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { processEnv } from '@sloth/core/config';
import { InputError } from '@sloth/core/errors';
import { readRegularFile } from '@sloth/core/regular-file';

/**
 * Where a running `sloth up` serves each part, kept in `<dataDir>/up-endpoints.json` (mode 0600, next to
 * the local token: the Redis URL may carry a password) so `sloth report` run in the same directory finds
 * the scheduler, the alerts service and the incidents' Redis without flags. Removed when `sloth up` stops;
 * one left behind by a killed `sloth up` names a process that no longer exists and is ignored.
 */
export interface UpEndpoints {
  readonly collector: string;
  readonly scheduler: string;
  readonly alerts?: string;
  readonly redisUrl: string;
  readonly redisPrefix: string;
  /** The `sloth up` process; a file whose process is gone (killed with SIGKILL) is stale and ignored. */
  readonly pid?: number;
}

const maxEndpointsBytes = 16 * 1024;

export function upEndpointsPath(dataDir: string): string {
  return join(dataDir, 'up-endpoints.json');
}

export function writeUpEndpoints(dataDir: string, endpoints: UpEndpoints): void {
  const path = upEndpointsPath(dataDir);
  writeFileSync(path, `${JSON.stringify(endpoints, null, 2)}\n`, { mode: 0o600 });
  chmodSync(path, 0o600);
}

export function removeUpEndpoints(dataDir: string): void {
  rmSync(upEndpointsPath(dataDir), { force: true });
}

/** The endpoints of `sloth up` in this data dir, if it left them; a damaged file is refused naming it. */
export function readUpEndpoints(dataDir: string): UpEndpoints | undefined {
  const path = upEndpointsPath(dataDir);
  const read = readRegularFile(path, { maxBytes: maxEndpointsBytes });
  if (!read.ok) {
    if (read.reason === 'missing') return undefined;
    throw new InputError(`${path} (written by sloth up) ${read.problem}`, { path });
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(read.bytes.toString('utf8'));
  } catch (error) {
    throw new InputError(`${path} (written by sloth up) is not JSON (${(error as Error).message}); delete it or restart sloth up`, { path });
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new InputError(`${path} (written by sloth up) is not a JSON object; delete it or restart sloth up`, { path });
  const fields = parsed as Record<string, unknown>;
  const url = (name: keyof UpEndpoints, schemes: readonly string[], optional = false): string | undefined => {
    const value = fields[name];
    if (value === undefined && optional) return undefined;
    if (typeof value === 'string' && schemes.some((scheme) => value.startsWith(`${scheme}://`))) return value;
    throw new InputError(`${path} (written by sloth up): "${name}" is not a ${schemes.join(' or ')} URL; delete the file or restart sloth up`, { path });
  };
  const prefix = fields.redisPrefix;
  if (typeof prefix !== 'string' || prefix === '') throw new InputError(`${path} (written by sloth up): "redisPrefix" is not a non-empty string; delete the file or restart sloth up`, { path });
  const pid = fields.pid;
  if (pid !== undefined && !(typeof pid === 'number' && Number.isSafeInteger(pid) && pid > 0)) throw new InputError(`${path} (written by sloth up): "pid" is not a process id; delete the file or restart sloth up`, { path });
  if (pid !== undefined && !processExists(pid)) return undefined;
  const alerts = url('alerts', ['http', 'https'], true);
  return {
    collector: url('collector', ['http', 'https']) as string,
    scheduler: url('scheduler', ['http', 'https']) as string,
    ...(alerts === undefined ? {} : { alerts }),
    redisUrl: url('redisUrl', ['redis', 'rediss']) as string,
    redisPrefix: prefix,
    ...(pid === undefined ? {} : { pid }),
  };
}

/** Signal 0 checks that a process exists without touching it; EPERM means it exists under another user. */
function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * The base URL of one of the running `sloth up`'s parts, when nobody named one on the command line:
 * what `<dataDir>/up-endpoints.json` says, else `fallback` (the part's default port). A damaged file is
 * refused naming it.
 */
export function localServiceUrl(given: string | undefined, dataDir: string, part: 'collector' | 'scheduler' | 'alerts', fallback: string): string {
  if (given !== undefined) return given;
  return readUpEndpoints(dataDir)?.[part] ?? fallback;
}

/** Where `sloth scheduler` and `sloth up` serve the scheduler API unless told otherwise. */
export const defaultSchedulerUrl = 'http://127.0.0.1:8080';

/** Where `sloth alerts` and `sloth up` serve the alerts API unless told otherwise (alerts config `port`, default 8081). */
export const defaultAlertsUrl = 'http://127.0.0.1:8081';

/**
 * The data dir a client command looks in for a local `sloth up`'s token and endpoints when `--data-dir`
 * is not given: `SLOTH_DATA_DIR` (the variable `sloth up` itself reads), else `./.sloth`.
 */
export function defaultDataDir(): string {
  const fromEnv = processEnv().SLOTH_DATA_DIR;
  return fromEnv === undefined || fromEnv === '' ? './.sloth' : fromEnv;
}
