/** Redis key naming: everything Sloth writes lives under one prefix. */
export interface RedisKeys {
  readonly prefix: string;
  /** Stream of accepted samples, consumed by analytics. */
  readonly samples: string;
  readonly anomalies: string;
  readonly forecasts: string;
  /** Agent up/down, health-check transitions, alert and remediation events. */
  readonly events: string;
  /** Prefix handed to BullMQ so its queues live under the same namespace. */
  readonly queuePrefix: string;
  /** Any other key under the prefix. */
  key(...parts: string[]): string;
}

/** Queue names (contract, see ARCHITECTURE.md). */
export const queueNames = {
  tasks: 'tasks',
  remediation: 'remediation',
  training: 'training',
  scaling: 'scaling',
  agent: (agentId: string): string => `agent.${agentId}`,
} as const;

/** @defaultValue prefix `sloth` */
export function redisKeys(prefix = 'sloth'): RedisKeys {
  if (!/^[A-Za-z0-9_.:-]+$/.test(prefix)) {
    throw new Error(`invalid Redis key prefix ${JSON.stringify(prefix)}: use letters, digits, '_', '.', ':' or '-'`);
  }
  const key = (...parts: string[]): string => [prefix, ...parts].join(':');
  return Object.freeze({
    prefix,
    samples: key('samples'),
    anomalies: key('anomalies'),
    forecasts: key('forecasts'),
    events: key('events'),
    queuePrefix: prefix,
    key,
  });
}
