import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { InputError } from '@sloth/core/errors';
import { readRegularFile } from '@sloth/core/regular-file';
import { maxTokenFileBytes } from '@sloth/core/tokens';

/**
 * The token `sloth up` generates when none is configured. It lives in
 * `<dataDir>/up-token` (mode 0600) so local commands (`sloth status`,
 * `sloth remediation`) can use it without the secret ever being printed.
 */
export function localTokenPath(dataDir: string): string {
  return join(dataDir, 'up-token');
}

/** Reads the local token, or creates one. */
export function ensureLocalToken(dataDir: string): string {
  const path = localTokenPath(dataDir);
  const existing = readLocalToken(dataDir);
  if (existing !== undefined) return existing;
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const token = randomBytes(24).toString('hex');
  writeFileSync(path, `${token}\n`, { mode: 0o600 });
  chmodSync(path, 0o600);
  return token;
}

/** The local token if `sloth up` made one in this data dir. */
export function readLocalToken(dataDir: string): string | undefined {
  const path = localTokenPath(dataDir);
  // Checked on the opened file: a FIFO put there would block `sloth status` for ever.
  const read = readRegularFile(path, { maxBytes: maxTokenFileBytes });
  if (!read.ok) {
    if (read.reason === 'missing') return undefined;
    throw new InputError(`the local token file ${path} ${read.problem}`, { path });
  }
  const token = read.bytes.toString('utf8').trim();
  return token === '' ? undefined : token;
}
