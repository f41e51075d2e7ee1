import type { AnomalyEvent, SlothEvent } from '@sloth/core';

/** Something that may start a remediation: an anomaly or an entry of `sloth:events`. */
export type TriggerEvent = { readonly kind: 'anomaly'; readonly anomaly: AnomalyEvent } | { readonly kind: 'event'; readonly event: SlothEvent };

/** A trigger as the scheduler received it from a stream. */
export interface Trigger {
  /** Unique id: `<stream>/<entry id>`. Redelivery of the same entry has the same id. */
  readonly id: string;
  readonly event: TriggerEvent;
  /** The agent the remediation runs on. */
  readonly agentId: string;
  /** When the entry was added to its stream, Unix milliseconds. */
  readonly triggeredAtMillis: number;
}

/** The agent a trigger is about: the anomaly's agent, the event's `agentId`, or `attributes.agentId`/`attributes.agent`. */
export function triggerTarget(event: TriggerEvent): string | undefined {
  if (event.kind === 'anomaly') return event.anomaly.agentId === '' ? undefined : event.anomaly.agentId;
  if (event.event.agentId !== undefined && event.event.agentId !== '') return event.event.agentId;
  for (const key of ['agentId', 'agent', 'agent_id']) {
    const value = event.event.attributes[key];
    if (typeof value === 'string' && value !== '') return value;
  }
  return undefined;
}

/** Milliseconds part of a Redis stream entry id (`1700000000000-0`). */
export function streamIdMillis(entryId: string): number {
  const millis = Number(entryId.split('-')[0]);
  return Number.isFinite(millis) ? millis : Date.now();
}
