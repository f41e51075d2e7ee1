import { chmodSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { SlothError } from './errors.js';
import { readRegularFile } from './regular-file.js';
import { createSecretFileOnce, ownerOnlyCheck } from './tokens.js';

/**
 * The password of the redis-server Sloth starts in a directory (`<data-dir>/redis` for `sloth up`).
 * Without one, every local user could connect to it and queue playbooks that the agent runs as its
 * own user. Made once per directory and kept there (mode 0600 in the 0700 directory), so a later
 * start, and one that adopts the server a killed `sloth up` left running, knows it.
 */

const passwordFileName = 'sloth-redis.password';

/** Random bytes in a new password (hex: safe in a URL and in redis.conf without quoting). */
const passwordBytes = 32;

/** What a password file may hold: URL- and redis.conf-safe, at least 128 bits of hex. */
const passwordShape = /^[A-Za-z0-9_-]{32,512}$/;

/** Where the password of the server in `dir` is kept. */
export function redisPasswordPath(dir: string): string {
  return join(dir, passwordFileName);
}

/**
 * The password of the server in `dir`, or undefined when none was made yet. Refuses a file other users
 * may read (as a token file is refused), one that is not a regular file, and one that is damaged.
 */
export function readRedisPassword(dir: string): string | undefined {
  const path = redisPasswordPath(dir);
  const read = readRegularFile(path, { maxBytes: 4096, check: ownerOnlyCheck(path) });
  if (!read.ok) {
    if (read.reason === 'missing') return undefined;
    throw new SlothError('SLOTH_ERR_CONFIG', `the Redis password file ${path} ${read.problem}`, { details: { path } });
  }
  const password = read.bytes.toString('utf8').trim();
  if (!passwordShape.test(password)) {
    throw new SlothError(
      'SLOTH_ERR_CONFIG',
      `the Redis password file ${path} does not hold a password (32 to 512 letters, digits, "-" or "_"); delete it and start again (a new one is made; stop a redis-server still running from ${dir} first)`,
      { details: { path } },
    );
  }
  return password;
}

/** The password of the server in `dir`, made (and `dir` with mode 0700) when there is none yet. */
export function ensureRedisPassword(dir: string): string {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700);
  const existing = readRedisPassword(dir);
  if (existing !== undefined) return existing;
  const path = redisPasswordPath(dir);
  createSecretFileOnce(path, passwordBytes);
  const made = readRedisPassword(dir);
  if (made === undefined) throw new SlothError('SLOTH_ERR_INTERNAL', `the Redis password file ${path} vanished right after it was written`);
  return made;
}

/** `url` with `password` as its password (`redis://:PASSWORD@host:port`); never log it (show it through `redactUrl`). */
export function redisUrlWithPassword(url: string, password: string): string {
  const parsed = new URL(url);
  parsed.password = password;
  return parsed.toString();
}
