import { createHash } from 'node:crypto';
import type { TokenEntry } from './config.js';

/**
 * Bearer-token authentication. Tokens are kept only as SHA-256 digests, and
 * a lookup compares digests, so neither logs nor timing reveal a token.
 */
export class TokenAuthenticator {
  private readonly names = new Map<string, string>();
  readonly insecureNoAuth: boolean;

  constructor(tokens: readonly TokenEntry[], insecureNoAuth: boolean) {
    for (const entry of tokens) this.names.set(digest(entry.token), entry.name);
    this.insecureNoAuth = insecureNoAuth;
  }

  /** The principal (token name) for an Authorization header, `anonymous` without auth, or undefined when refused. */
  authenticate(authorization: string | undefined): string | undefined {
    if (this.insecureNoAuth) {
      if (authorization === undefined) return 'anonymous';
      const name = this.lookup(authorization);
      return name ?? 'anonymous';
    }
    if (authorization === undefined) return undefined;
    return this.lookup(authorization);
  }

  private lookup(authorization: string): string | undefined {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization);
    if (match === null) return undefined;
    return this.names.get(digest(match[1] as string));
  }
}

function digest(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('base64');
}
