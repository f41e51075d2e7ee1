import { mayWriteFor, readTokenFile, TokenSet, type Principal, type TokenSpec } from '@sloth/core';
import type { IngestBatch } from './records.js';
import { HttpError } from './http-error.js';
import { clipped } from './otlp-normalise.js';

/** What the collector's token settings look like (flags, file, env). */
export interface CollectorTokenSettings {
  readonly tokens: readonly TokenSpec[];
  readonly tokenFile?: string | undefined;
  readonly adminTokens?: readonly TokenSpec[] | undefined;
  readonly adminTokenFile?: string | undefined;
  readonly insecureNoAuth: boolean;
}

/** Every token the collector's OTLP and query API accept: listed, from token files, and admin tokens. */
export function collectorTokenSpecs(settings: CollectorTokenSettings): TokenSpec[] {
  return [
    ...settings.tokens,
    ...(settings.tokenFile === undefined ? [] : readTokenFile(settings.tokenFile)),
    ...(settings.adminTokens ?? []).map((t) => ({ ...t, admin: true })),
    ...(settings.adminTokenFile === undefined ? [] : readTokenFile(settings.adminTokenFile, { admin: true })),
  ];
}

/** The token set of the collector's main port. */
export function collectorTokens(settings: CollectorTokenSettings): TokenSet {
  return new TokenSet(collectorTokenSpecs(settings), { insecureNoAuth: settings.insecureNoAuth });
}

/**
 * Refuses a whole request that writes for an agent its token is not bound to
 * (403, nothing stored), naming the token and the first foreign agent id.
 */
export function assertMayWrite(principal: Principal, batch: IngestBatch): void {
  for (const resource of batch.resources) {
    if (!mayWriteFor(principal, resource.agentId)) {
      const bound = principal.agents === 'any' ? 'any agent' : principal.agents.join(', ');
      throw new HttpError(
        403,
        'SLOTH_ERR_FORBIDDEN',
        `token "${principal.name}" may write only for agent ids matching ${bound}, not for agent "${clipped(resource.agentId)}" (service.instance.id / host.name); nothing was stored. Use that agent's own token or an admin token.`,
        { principal: principal.name, agentId: clipped(resource.agentId) },
      );
    }
  }
}
