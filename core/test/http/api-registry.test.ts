import { describe, expect, it } from 'vitest';
import { createApi, liveApis, silentLogger, TokenSet } from '../../src/index.js';

describe('liveApis', () => {
  it('lists every open createApi app with each route and who may call it, and forgets it once closed', async () => {
    const app = createApi({ name: 'registry-test', tokens: new TokenSet([{ token: 'token-for-registry-test', name: 'reader' }]), logger: silentLogger() });
    app.get('/healthz', { config: { auth: 'public' } }, async () => ({ status: 'ok' }));
    app.get('/api/v1/things', async () => ({ things: [] }));
    app.post('/api/v1/things/:id/approve', { config: { auth: 'admin' } }, async () => ({ ok: true }));
    await app.ready();
    const entry = liveApis().find((api) => api.app === app);
    expect(entry?.name).toBe('registry-test');
    expect([...(entry?.routes ?? [])].map((r) => `${r.method} ${r.url} ${r.auth}`).sort()).toEqual([
      'GET /api/v1/things token',
      'GET /healthz public',
      'HEAD /api/v1/things token',
      'HEAD /healthz public',
      'POST /api/v1/things/:id/approve admin',
    ]);
    await app.close();
    expect(liveApis().some((api) => api.app === app)).toBe(false);
  });
});
