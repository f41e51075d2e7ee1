import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { SlothError, type AnomalyEvent, type SlothEvent } from '@sloth/core';
import { loadPlaybook } from '../playbook/api.js';
import { validateParams } from '../playbook/metadata.js';
import { matchTriggers } from '../playbook/triggers.js';
import type { Playbook } from '../playbook/types.js';

/** A trigger as the scheduler hands it over (same shape as the scheduler's `TriggerEvent`). */
export type SchedulerTriggerEvent = { readonly kind: 'anomaly'; readonly anomaly: AnomalyEvent } | { readonly kind: 'event'; readonly event: SlothEvent };

/** A loaded playbook as the scheduler sees it (structurally the scheduler's `SchedulablePlaybook`). */
export interface DirectoryPlaybook {
  readonly name: string;
  readonly version: string;
  readonly fileName: string;
  readonly source: string;
  readonly requiresApproval: boolean;
  readonly paramNames: readonly string[];
  /** Required parameters without a default (the scheduler's `playbookParams` must give them). */
  readonly requiredParams: readonly string[];
  readonly playbook: Playbook;
  /** Problems of run parameters against the declared ones (the agent's own check, run before a task is queued). */
  checkParams(params: Readonly<Record<string, unknown>>): readonly string[];
  matches(event: SchedulerTriggerEvent): boolean;
}

/**
 * Loads every `*.lua` file of a directory with the playbook runtime, for the
 * scheduler: metadata, trigger matching and the source it ships in jobs.
 * Fails with a SlothError naming the file when one does not load, or when two
 * files declare the same playbook name.
 */
export async function loadPlaybookDirectory(directory: string): Promise<DirectoryPlaybook[]> {
  let names: string[];
  let directoryMode: number;
  try {
    const info = await stat(directory);
    if (!info.isDirectory()) throw new Error('not a directory');
    directoryMode = info.mode;
    names = (await readdir(directory)).filter((n) => n.endsWith('.lua')).sort();
  } catch (error) {
    throw new SlothError('SLOTH_ERR_CONFIG', `playbook directory ${directory} cannot be read (${(error as Error).message}): pass --playbooks DIR with your *.lua playbooks`, {
      details: { directory },
    });
  }
  // What is in this directory runs on every agent: one that any local user may write to is refused.
  refuseWorldWritable(directory, directoryMode, 'playbook directory');
  const loaded: DirectoryPlaybook[] = [];
  const seen = new Map<string, string>();
  for (const name of names) {
    const fileName = join(directory, name);
    refuseWorldWritable(fileName, (await stat(fileName)).mode, 'playbook');
    const source = await readFile(fileName, 'utf8');
    const playbook = await loadPlaybook(source, fileName);
    const { metadata } = playbook;
    const previous = seen.get(metadata.name);
    if (previous !== undefined) {
      throw new SlothError('SLOTH_ERR_PLAYBOOK', `${fileName}: playbook name '${metadata.name}' is already used by ${previous}; names must be unique`, { details: { fileName } });
    }
    seen.set(metadata.name, fileName);
    loaded.push({
      name: metadata.name,
      version: metadata.version,
      fileName: name,
      source,
      requiresApproval: metadata.requiresApproval,
      paramNames: Object.keys(metadata.params),
      requiredParams: Object.entries(metadata.params)
        .filter(([, spec]) => spec.required && spec.default === undefined)
        .map(([param]) => param),
      playbook,
      checkParams: (params) => validateParams(metadata, { ...params }).problems,
      matches: (event) =>
        matchTriggers(playbook, event.kind === 'anomaly' ? { source: 'anomaly', anomaly: event.anomaly } : { source: 'event', event: event.event }).length > 0,
    });
  }
  return loaded;
}

/** A playbook file or directory that other users may write to would let any of them run code on the agents. */
function refuseWorldWritable(path: string, mode: number, what: string): void {
  if ((mode & 0o002) === 0) return;
  throw new SlothError('SLOTH_ERR_CONFIG', `${what} ${path} is writable by every user (mode ${(mode & 0o7777).toString(8).padStart(4, '0')}), and what it holds runs on the agents: run chmod o-w ${path}`, {
    details: { path },
  });
}
