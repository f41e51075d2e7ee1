import { parseSeriesId, type AnomalyEvent, type ForecastMessage, type SlothEvent } from '@sloth/core';
import type { AlertLabels } from './labels.js';

/** An anomaly incident as the alerts role tracks it. */
export interface Incident {
  readonly id: string;
  readonly seriesId: string;
  readonly agentId: string;
  readonly metric: string;
  readonly labels: AlertLabels;
  direction: 'above' | 'below' | 'unknown';
  peakScore: number;
  value: number;
  expectedLow: number | null;
  expectedHigh: number | null;
  firstSeenMillis: number;
  lastSeenMillis: number;
  /** From the producer's `resolved` transition; incidents without states end by age instead. */
  resolved: boolean;
  /** The producer sends incident states (newer analytics), so age does not end it. */
  readonly stateful: boolean;
}

/** The latest remediation the scheduler announced for an agent. */
export interface RemediationNote {
  readonly playbook: string;
  readonly state: string;
  readonly message: string | undefined;
  readonly atMillis: number;
}

type IncidentFields = { incidentId?: unknown; state?: unknown; direction?: unknown };

/**
 * What the streams told the alerts role: open anomaly incidents, the newest
 * forecast per series, which agents are down and the latest remediation per
 * agent. Fed by the stream consumers, read by the evaluator.
 */
export class SignalStore {
  readonly incidents = new Map<string, Incident>();
  readonly forecasts = new Map<string, ForecastMessage>();
  readonly downAgents = new Map<string, number>();
  readonly remediations = new Map<string, RemediationNote>();
  /** Last time analytics published anything (anomaly or forecast); the service sets its start time, so a fresh start is not "quiet". */
  lastAnalyticsMillis = 0;

  addAnomaly(event: AnomalyEvent & IncidentFields, receivedMillis: number): void {
    this.lastAnalyticsMillis = Math.max(this.lastAnalyticsMillis, receivedMillis);
    const stateful = typeof event.incidentId === 'string' && event.incidentId !== '';
    const id = stateful ? (event.incidentId as string) : event.seriesId;
    const direction = event.direction === 'above' || event.direction === 'below' ? event.direction : inferDirection(event);
    let incident = this.incidents.get(id);
    if (incident === undefined || (incident.resolved && event.state !== 'resolved')) {
      let labels: AlertLabels = {};
      try {
        labels = parseSeriesId(event.seriesId).labels;
      } catch {
        // A series id we cannot parse still alerts, with the agent and metric only.
      }
      incident = {
        id,
        seriesId: event.seriesId,
        agentId: event.agentId,
        metric: event.metric,
        labels,
        direction,
        peakScore: event.score,
        value: event.value,
        expectedLow: event.expectedLow,
        expectedHigh: event.expectedHigh,
        firstSeenMillis: event.timestampMillis,
        lastSeenMillis: event.timestampMillis,
        resolved: false,
        stateful,
      };
      this.incidents.set(id, incident);
    }
    incident.peakScore = Math.max(incident.peakScore, event.score);
    incident.value = event.value;
    incident.expectedLow = event.expectedLow;
    incident.expectedHigh = event.expectedHigh;
    incident.lastSeenMillis = Math.max(incident.lastSeenMillis, event.timestampMillis);
    if (direction !== 'unknown') incident.direction = direction;
    if (event.state === 'resolved') incident.resolved = true;
  }

  addForecast(message: ForecastMessage, receivedMillis: number): void {
    this.lastAnalyticsMillis = Math.max(this.lastAnalyticsMillis, receivedMillis);
    const known = this.forecasts.get(message.seriesId);
    if (known === undefined || known.issuedAtMillis <= message.issuedAtMillis) this.forecasts.set(message.seriesId, message);
  }

  addEvent(event: SlothEvent): void {
    const agentId = event.agentId;
    if (event.type === 'agent_down' && agentId !== undefined) this.downAgents.set(agentId, event.timestampMillis);
    else if (event.type === 'agent_up' && agentId !== undefined) this.downAgents.delete(agentId);
    else if (event.type === 'remediation' && agentId !== undefined) {
      const a = event.attributes;
      const message = typeof a.message === 'string' ? a.message : typeof a.reason === 'string' ? a.reason : undefined;
      this.remediations.set(agentId, { playbook: typeof a.playbook === 'string' ? a.playbook : '?', state: typeof a.state === 'string' ? a.state : '?', message, atMillis: event.timestampMillis });
    }
  }

  /** Drops incidents that ended (resolved, or silent past `maxAgeMillis` without states) once rules have seen them. */
  prune(nowMillis: number, maxAgeMillis: number): void {
    for (const [id, incident] of this.incidents) {
      if (incident.resolved || (!incident.stateful && nowMillis - incident.lastSeenMillis > maxAgeMillis)) this.incidents.delete(id);
    }
  }
}

function inferDirection(event: AnomalyEvent): 'above' | 'below' | 'unknown' {
  if (event.expectedHigh !== null && event.value > event.expectedHigh) return 'above';
  if (event.expectedLow !== null && event.value < event.expectedLow) return 'below';
  return 'unknown';
}
