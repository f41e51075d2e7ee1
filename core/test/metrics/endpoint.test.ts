import { createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import { MetricsEndpoint } from '../../src/metrics/endpoint.js';

describe('MetricsEndpoint', () => {
  it('serves GET /metrics with the Prometheus content type, and nothing else', async () => {
    let fail = false;
    const endpoint = new MetricsEndpoint({
      host: '127.0.0.1',
      port: 0,
      render: async () => {
        if (fail) throw new Error('store closed');
        return 'x_total 1\n';
      },
      portInUseMessage: (port) => `port ${port} taken`,
    });
    await endpoint.start();
    try {
      const base = `http://127.0.0.1:${endpoint.port}`;
      const ok = await fetch(`${base}/metrics`);
      expect(ok.status).toBe(200);
      expect(ok.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
      expect(await ok.text()).toBe('x_total 1\n');
      const other = await fetch(`${base}/other`);
      expect(other.status).toBe(404);
      expect(await other.json()).toMatchObject({ code: 'SLOTH_ERR_NOT_FOUND' });
      expect((await fetch(`${base}/metrics`, { method: 'POST' })).status).toBe(405);
      fail = true;
      const broken = await fetch(`${base}/metrics`);
      expect(broken.status).toBe(500);
      expect(await broken.json()).toEqual({ code: 'SLOTH_ERR_INTERNAL', message: 'cannot render metrics: store closed', details: {} });
    } finally {
      await endpoint.shutdown();
    }
  });

  it('names the port and says what to do when the port is taken', async () => {
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const port = (blocker.address() as { port: number }).port;
    const endpoint = new MetricsEndpoint({ host: '127.0.0.1', port, render: () => '', portInUseMessage: (p) => `metrics port ${p} is in use; pass --metrics-port` });
    try {
      await expect(endpoint.start()).rejects.toMatchObject({ code: 'SLOTH_ERR_PORT_IN_USE', message: `metrics port ${port} is in use; pass --metrics-port`, details: { port } });
    } finally {
      await new Promise<void>((resolve) => blocker.close(() => resolve()));
    }
  });
});
