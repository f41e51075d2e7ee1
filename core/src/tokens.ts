import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { chmodSync, writeFileSync, type Stats } from 'node:fs';
import { SlothError } from './errors.js';
import { readRegularFile } from './regular-file.js';

/**
 * Sloth's bearer-token model, shared by every HTTP server.
 *
 * A token is `SECRET[:name]`. The name is what logs, audit records and the
 * agent registry see; the secret never leaves this module except as a
 * SHA-256 digest. A named token is bound to the agent ids matching its name
 * (`*` matches any run of characters), so `s3cret:web-*` writes for
 * `web-1` and `web-2` only; an admin token writes for any agent and may call
 * routes declared `admin`.
 */

/** One configured token. */
export interface TokenSpec {
  /** The secret sent as `Authorization: Bearer SECRET`. */
  readonly token: string;
  /** Who holds it (recorded as the principal). @defaultValue `default` */
  readonly name: string;
  /** May call `admin` routes and write for any agent. @defaultValue false */
  readonly admin?: boolean | undefined;
  /**
   * Agent-id patterns this token may write for. Absent: the token's name when
   * it has one, any agent for a bare secret (kept for existing set-ups; name
   * your tokens to bind them).
   */
  readonly agents?: readonly string[] | undefined;
}

/** Who made a request: the token's name and what it may do. Never the secret. */
export interface Principal {
  readonly name: string;
  readonly admin: boolean;
  /** Agent-id patterns it may write for; `any` for admin and unbound tokens. */
  readonly agents: readonly string[] | 'any';
}

/** Minimum secret length, so a guessed short word is never a token. */
export const minTokenLength = 8;

/** Parses `SECRET[:name]` (the `--token` flag form); the last `:` separates the name. */
export function parseTokenSpec(value: string, options: { admin?: boolean } = {}): TokenSpec {
  const text = value.trim();
  const colon = text.lastIndexOf(':');
  const token = colon > 0 ? text.slice(0, colon) : text;
  const name = colon > 0 ? text.slice(colon + 1) : '';
  if (token.length < minTokenLength) {
    throw new SlothError('SLOTH_ERR_CONFIG', `a token must be at least ${minTokenLength} characters before its ":name" (got ${token.length}); generate one with: openssl rand -hex 24`);
  }
  return { token, name: name === '' ? (options.admin === true ? 'admin' : 'default') : name, ...(options.admin === true ? { admin: true } : {}) };
}

/** Largest token file read: a few lines of secrets are bytes, not megabytes (a larger file is the wrong file). */
export const maxTokenFileBytes = 1024 * 1024;

/**
 * The check a file holding secrets must pass (for {@link readRegularFile}'s `check`): no permission bit for
 * group or others, so no other user can read it. The problem says how to fix it.
 */
export function ownerOnlyCheck(path: string): (stats: Stats) => string | undefined {
  return (stats) => {
    const mode = stats.mode & 0o777;
    return (mode & 0o077) === 0 ? undefined : `is readable by other users (mode ${mode.toString(8).padStart(4, '0')}); run: chmod 600 ${path}`;
  };
}

/**
 * Writes `bytes` random bytes as hex to `path` (mode 0600) unless the file exists: exclusive, so two
 * starts racing on one data dir do not end up with two secrets. Read it back with the file's own checks.
 */
export function createSecretFileOnce(path: string, bytes: number): void {
  try {
    writeFileSync(path, `${randomBytes(bytes).toString('hex')}\n`, { mode: 0o600, flag: 'wx' });
    chmodSync(path, 0o600);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  }
}

/**
 * Reads tokens from a file: one `SECRET[:name]` per line, `#` comments and
 * blank lines ignored. Keeps secrets out of `ps` and shell history. The file
 * must be a regular file (a FIFO would block the start for ever) of at most
 * {@link maxTokenFileBytes}, not readable by other users.
 */
export function readTokenFile(path: string, options: { admin?: boolean } = {}): TokenSpec[] {
  const read = readRegularFile(path, { maxBytes: maxTokenFileBytes, check: ownerOnlyCheck(path) });
  if (!read.ok) throw new SlothError('SLOTH_ERR_CONFIG', `token file ${path} ${read.problem}`, { details: { path } });
  const text = read.bytes.toString('utf8');
  const specs: TokenSpec[] = [];
  for (const [index, line] of text.split('\n').entries()) {
    const trimmed = line.trim();
    if (trimmed === '' || trimmed.startsWith('#')) continue;
    try {
      specs.push(parseTokenSpec(trimmed, options));
    } catch (error) {
      throw new SlothError('SLOTH_ERR_CONFIG', `token file ${path}, line ${index + 1}: ${(error as Error).message}`, { cause: error });
    }
  }
  if (specs.length === 0) throw new SlothError('SLOTH_ERR_CONFIG', `token file ${path} holds no token; put one SECRET[:name] per line`);
  return specs;
}

/** Whether `agentId` matches a pattern where `*` stands for any run of characters. */
export function agentMatches(pattern: string, agentId: string): boolean {
  if (!pattern.includes('*')) return pattern === agentId;
  const parts = pattern.split('*').map((p) => p.replace(/[.+?^${}()|[\]\\]/g, '\\$&'));
  return new RegExp(`^${parts.join('.*')}$`, 's').test(agentId);
}

/** Whether a principal may write data for an agent id. */
export function mayWriteFor(principal: Principal, agentId: string): boolean {
  if (principal.admin || principal.agents === 'any') return true;
  return principal.agents.some((pattern) => agentMatches(pattern, agentId));
}

function digest(secret: string): Buffer {
  return createHash('sha256').update(secret, 'utf8').digest();
}

/** The principal used when authentication is switched off (`--insecure-no-auth`). */
export const anonymousPrincipal: Principal = Object.freeze({ name: 'anonymous', admin: true, agents: 'any' as const });

/**
 * The tokens one server accepts. Lookups compare SHA-256 digests in constant
 * time over every entry, so neither timing nor logs reveal a secret.
 */
export class TokenSet {
  private readonly entries: ReadonlyArray<{ readonly digest: Buffer; readonly principal: Principal }>;
  /** Every request is let in as {@link anonymousPrincipal} (local use only). */
  readonly insecureNoAuth: boolean;

  constructor(specs: readonly TokenSpec[], options: { insecureNoAuth?: boolean } = {}) {
    this.insecureNoAuth = options.insecureNoAuth === true;
    this.entries = specs.map((spec) => {
      if (spec.token.length < minTokenLength) throw new SlothError('SLOTH_ERR_CONFIG', `token "${spec.name}" is shorter than ${minTokenLength} characters`);
      const admin = spec.admin === true;
      const named = spec.name !== '' && spec.name !== 'default';
      const agents: Principal['agents'] = admin ? 'any' : spec.agents !== undefined ? (spec.agents.includes('*') ? 'any' : [...spec.agents]) : named ? [spec.name] : 'any';
      return { digest: digest(spec.token), principal: Object.freeze({ name: spec.name, admin, agents }) };
    });
  }

  /** Number of configured tokens. */
  get size(): number {
    return this.entries.length;
  }

  /**
   * The principal for an `Authorization` header, or undefined when it carries
   * no valid token. With `insecureNoAuth` a request without a header is
   * anonymous, but a header naming a real token still gets that token's name.
   */
  authenticate(authorization: string | undefined): Principal | undefined {
    const found = authorization === undefined ? undefined : this.lookup(authorization);
    if (found !== undefined) return found;
    return this.insecureNoAuth ? anonymousPrincipal : undefined;
  }

  private lookup(authorization: string): Principal | undefined {
    const match = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(authorization);
    if (match === null) return undefined;
    const presented = digest(match[1] as string);
    let found: Principal | undefined;
    for (const entry of this.entries) {
      if (timingSafeEqual(entry.digest, presented) && found === undefined) found = entry.principal;
    }
    return found;
  }
}
