import { ownerOnlyCheck, readRegularFile } from '@sloth/core';

/**
 * Secrets of the alerts file given as `<key>_file` (Alertmanager's `api_url_file`, `url_file`): a path
 * whose file holds the secret, so the alerts file itself can be shared, versioned and shown. The file is
 * read with the same checks as a token file (regular file, size cap, not readable by group or others).
 */

/** Largest secret file read: a URL or a token is bytes; a larger file is the wrong file. */
export const maxSecretFileBytes = 64 * 1024;

/** The trimmed content of a secret file, or why it was not read: the problem names the path, never the content. */
export type SecretFileRead = { readonly ok: true; readonly text: string } | { readonly ok: false; readonly problem: string };

export function readSecretFile(path: string): SecretFileRead {
  const read = readRegularFile(path, { maxBytes: maxSecretFileBytes, check: ownerOnlyCheck(path) });
  if (!read.ok) return { ok: false, problem: `${path} ${read.problem}` };
  const text = read.bytes.toString('utf8').trim();
  if (text === '') return { ok: false, problem: `${path} is empty` };
  return { ok: true, text };
}
