import { mayWriteFor, readTokenFile, SlothError, TokenSet, type Principal, type TokenSpec } from '@sloth/core';
import type { IngestBatch } from './records.js';
import { HttpError } from './http-error.js';
import { clipped } from './otlp-normalise.js';

/** What the collector's token settings look like (flags, file, env). */
export interface CollectorTokenSettings {
  readonly tokens: readonly TokenSpec[];
  readonly tokenFile?: string | undefined;
  readonly adminTokens?: readonly TokenSpec[] | undefined;
  readonly adminTokenFile?: string | undefined;
  readonly metricsToken?: string | undefined;
  readonly metricsTokenFile?: string | undefined;
  readonly insecureNoAuth: boolean;
}

/** The credentials of the collector's two ports, read once at start-up. */
export interface CollectorCredentials {
  /** What the OTLP and query API port accepts: listed tokens, token files and admin tokens. */
  readonly tokens: TokenSet;
  /** Prometheus' token for `/metrics`; without it `/metrics` is open. */
  readonly metricsToken: string | undefined;
}

/** A configured token with where it came from, as start-up messages name it (never with its secret). */
interface PlacedToken {
  readonly spec: TokenSpec;
  readonly role: 'agent' | 'admin' | 'metrics';
  readonly source: string;
}

/**
 * Reads the collector's tokens (token files here, so a bad file stops the start naming it) and refuses one
 * secret configured as two different tokens: a request carrying it would be only one of them (an admin token
 * silently demoted to an agent token, an agent token opening `/metrics`).
 */
export function collectorCredentials(settings: CollectorTokenSettings): CollectorCredentials {
  const fromFile = (path: string | undefined, admin: boolean): TokenSpec[] => (path === undefined ? [] : readTokenFile(path, { admin }));
  const placed: PlacedToken[] = [
    ...settings.tokens.map((spec) => ({ spec, role: spec.admin === true ? ('admin' as const) : ('agent' as const), source: '--token / collector.tokens' })),
    ...fromFile(settings.tokenFile, false).map((spec) => ({ spec, role: 'agent' as const, source: `token file ${settings.tokenFile}` })),
    ...(settings.adminTokens ?? []).map((spec) => ({ spec: { ...spec, admin: true }, role: 'admin' as const, source: '--admin-token / collector.adminTokens' })),
    ...fromFile(settings.adminTokenFile, true).map((spec) => ({ spec, role: 'admin' as const, source: `admin token file ${settings.adminTokenFile}` })),
  ];
  const metricsToken = settings.metricsToken ?? (settings.metricsTokenFile === undefined ? undefined : readTokenFile(settings.metricsTokenFile)[0]?.token);
  const metrics: PlacedToken[] =
    metricsToken === undefined
      ? []
      : [{ spec: { token: metricsToken, name: 'prometheus' }, role: 'metrics', source: settings.metricsToken === undefined ? `metrics token file ${settings.metricsTokenFile}` : '--metrics-token / collector.metricsToken' }];
  const distinct = oneTokenPerSecret([...placed, ...metrics]).filter((token) => token.role !== 'metrics');
  return { tokens: new TokenSet(distinct.map((token) => token.spec), { insecureNoAuth: settings.insecureNoAuth }), metricsToken };
}

/** The tokens with a token listed twice alike (a flag repeating the config file) kept once; throws when one secret is two tokens. */
function oneTokenPerSecret(placed: readonly PlacedToken[]): PlacedToken[] {
  const first = new Map<string, PlacedToken>();
  const problems: string[] = [];
  for (const token of placed) {
    const earlier = first.get(token.spec.token);
    if (earlier === undefined) first.set(token.spec.token, token);
    else if (!sameToken(earlier, token)) problems.push(`${named(earlier)} and ${named(token)} have the same secret`);
  }
  if (problems.length === 0) return [...first.values()];
  throw new SlothError(
    'SLOTH_ERR_CONFIG',
    `one secret is configured as two different tokens, so a request carrying it would be only one of them:\n${problems.map((p) => `  - ${p}`).join('\n')}\nGive each token its own secret (openssl rand -hex 24).`,
    { details: { problems } },
  );
}

function sameToken(a: PlacedToken, b: PlacedToken): boolean {
  return a.role === b.role && a.spec.name === b.spec.name && JSON.stringify(a.spec.agents ?? null) === JSON.stringify(b.spec.agents ?? null);
}

function named(token: PlacedToken): string {
  return token.role === 'metrics' ? `the metrics token (${token.source})` : `${token.role} token "${token.spec.name}" (${token.source})`;
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
