import { MetricsEndpoint } from '@sloth/core';

/** Serves `GET /metrics` with the text the callback renders (core's {@link MetricsEndpoint}). */
export class MetricsServer extends MetricsEndpoint {
  constructor(options: { host: string; port: number; render: () => string | Promise<string> }) {
    super({ ...options, portInUseMessage: (port) => `analytics metrics port ${port} is already in use: pick another with --metrics-port (0 disables the endpoint)` });
  }
}
