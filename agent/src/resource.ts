import { readFileSync } from 'node:fs';
import os from 'node:os';
import { resourceFromAttributes, type Resource } from '@opentelemetry/resources';
import { version } from '@sloth/core';

export interface AgentResourceInput {
  readonly agentId: string;
  readonly labels: Readonly<Record<string, string>>;
  /** @defaultValue os.hostname() */
  readonly hostName?: string | undefined;
}

/** The machine id (`/etc/machine-id` on Linux), or the agent id where there is none. */
function hostId(fallback: string): string {
  for (const path of ['/etc/machine-id', '/var/lib/dbus/machine-id']) {
    try {
      const id = readFileSync(path, 'utf8').trim();
      if (id !== '') return id;
    } catch {
      // try the next one
    }
  }
  return fallback;
}

const osTypes: Readonly<Record<string, string>> = { win32: 'windows', sunos: 'solaris' };

/**
 * The resource on everything the agent sends: who it is and what it can
 * hold, so the scheduler can place work (`sloth.agent.cpu.count`,
 * `sloth.agent.memory.total`, `sloth.agent.label.<key>`).
 */
export function agentResourceAttributes(input: AgentResourceInput): Record<string, string | number> {
  const attributes: Record<string, string | number> = {
    'service.name': 'sloth-agent',
    'service.instance.id': input.agentId,
    'service.version': version,
    'host.name': input.hostName ?? os.hostname(),
    'host.id': hostId(input.agentId),
    'host.arch': os.arch() === 'x64' ? 'amd64' : os.arch(),
    'os.type': osTypes[process.platform] ?? process.platform,
    'sloth.agent.cpu.count': os.cpus().length,
    'sloth.agent.memory.total': os.totalmem(),
  };
  for (const [key, value] of Object.entries(input.labels)) attributes[`sloth.agent.label.${key}`] = value;
  return attributes;
}

export function agentResource(input: AgentResourceInput): Resource {
  return resourceFromAttributes(agentResourceAttributes(input));
}
