import type { FastifyInstance } from 'fastify';

/** Who may call a route (see `createApi`): `public`, `token` (the default) or `admin`. */
export type RouteAuth = 'public' | 'token' | 'admin';

/** A registered route and who may call it, as `createApi`'s authentication hook decides it. */
export interface ApiRouteAccess {
  readonly method: string;
  readonly url: string;
  readonly auth: RouteAuth;
}

/** An app made by `createApi` that is not closed yet: its name, the app and every route with its access. */
export interface LiveApi {
  /** The server's name (`collector`, `scheduler`, `alerts`, `collector metrics endpoint`). */
  readonly name: string;
  readonly app: FastifyInstance;
  readonly routes: readonly ApiRouteAccess[];
}

interface Entry {
  readonly name: string;
  readonly app: WeakRef<FastifyInstance>;
  readonly routes: ApiRouteAccess[];
}

// Weak: an app that is dropped without close() (a test's) is not kept alive by this list.
const entries = new Set<Entry>();

/** Adds an app made by `createApi`; its routes are pushed onto the returned list as they are registered. */
export function registerApi(name: string, app: FastifyInstance): ApiRouteAccess[] {
  const entry: Entry = { name, app: new WeakRef(app), routes: [] };
  entries.add(entry);
  app.addHook('onClose', async () => {
    entries.delete(entry);
  });
  return entry.routes;
}

/**
 * Every app made by `createApi` in this process and not closed, with each route's access: what a
 * route audit walks (test/route-auth-audit.test.ts), so a route added tomorrow is audited without a
 * hand-kept list.
 */
export function liveApis(): LiveApi[] {
  const live: LiveApi[] = [];
  for (const entry of entries) {
    const app = entry.app.deref();
    if (app === undefined) entries.delete(entry);
    else live.push({ name: entry.name, app, routes: entry.routes });
  }
  return live;
}
