import { randomUUID } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { SlothError } from '@sloth/core';

/** What the agent keeps in its state dir between runs. */
export interface AgentIdentity {
  /** Generated once; `service.instance.id` of everything the agent sends. */
  readonly agentId: string;
  /** When the id was created (ISO 8601). */
  readonly createdAt: string;
}

const idPattern = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$/;

/**
 * Loads the agent's identity from `<stateDir>/identity.json`, creating it on
 * first start. A configured id (`agent.id`) wins and is written back, so the
 * state dir and the config never disagree silently.
 */
export async function loadIdentity(stateDir: string, configuredId?: string): Promise<AgentIdentity> {
  await mkdir(stateDir, { recursive: true });
  const path = join(stateDir, 'identity.json');
  let existing: AgentIdentity | undefined;
  try {
    const parsed = JSON.parse(await readFile(path, 'utf8')) as Partial<AgentIdentity>;
    if (typeof parsed.agentId === 'string' && idPattern.test(parsed.agentId)) {
      existing = { agentId: parsed.agentId, createdAt: typeof parsed.createdAt === 'string' ? parsed.createdAt : new Date().toISOString() };
    } else {
      throw new SlothError('SLOTH_ERR_CONFIG_FILE', `agent state file ${path} holds no valid agentId; fix it or delete it to generate a new id`, { details: { path } });
    }
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') {
      if (error instanceof SlothError) throw error;
      throw new SlothError('SLOTH_ERR_CONFIG_FILE', `cannot read agent state file ${path}: ${(error as Error).message}`, { cause: error, details: { path } });
    }
  }
  if (existing !== undefined && (configuredId === undefined || configuredId === existing.agentId)) return existing;
  const identity: AgentIdentity = { agentId: configuredId ?? randomUUID(), createdAt: existing?.createdAt ?? new Date().toISOString() };
  const tmp = `${path}.tmp`;
  await writeFile(tmp, `${JSON.stringify(identity, null, 2)}\n`);
  await rename(tmp, path);
  return identity;
}
