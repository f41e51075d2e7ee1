// Subpaths, not all of core: `sloth playbook run` loads this package's playbook entry alone and must start fast.
import { SlothError } from '@sloth/core/errors';
import { anomalyEventSchema, slothEventSchema, type AnomalyEvent } from '@sloth/core/model';
import { falseRateAtScore, minScoreForFalseRate } from './calibration.js';
import type { AnomalyTrigger, Playbook, PlaybookEvent, PlaybookMetadata, TriggerMatch } from './types.js';

/**
 * Reads an event as received from `sloth:anomalies` (an {@link AnomalyEvent}) or
 * `sloth:events` (a {@link SlothEvent}; alerts are `type: 'alert'` with
 * `attributes.name`). Accepts an already tagged {@link PlaybookEvent} too.
 */
export function parsePlaybookEvent(value: unknown): PlaybookEvent {
  if (typeof value === 'object' && value !== null && 'source' in value) {
    const tagged = value as { source: unknown; anomaly?: unknown; event?: unknown };
    if (tagged.source === 'anomaly') return { source: 'anomaly', anomaly: anomalyEventSchema.parse(tagged.anomaly) };
    if (tagged.source === 'event') return { source: 'event', event: slothEventSchema.parse(tagged.event) };
  }
  const anomaly = anomalyEventSchema.safeParse(value);
  if (anomaly.success) return { source: 'anomaly', anomaly: anomaly.data };
  const event = slothEventSchema.safeParse(value);
  if (event.success) return { source: 'event', event: event.data };
  throw new SlothError(
    'SLOTH_ERR_INPUT',
    'the event is neither an anomaly event (seriesId, agentId, metric, timestampMillis, value, score, …) nor a Sloth event (type, timestampMillis, attributes)',
    { details: { anomalyIssues: anomaly.error.issues.slice(0, 3), eventIssues: event.error.issues.slice(0, 3) } },
  );
}

/**
 * Above or below the expected range: the incident's own direction, else (events from producers
 * without incidents) the value against the range; undefined when neither tells.
 */
function anomalyDirection(a: AnomalyEvent): 'above' | 'below' | undefined {
  if (a.direction !== undefined) return a.direction;
  if (a.expectedHigh !== null && a.value > a.expectedHigh) return 'above';
  if (a.expectedLow !== null && a.value < a.expectedLow) return 'below';
  return undefined;
}

/** How long the incident has lasted at this transition, in whole seconds (0 for events without incidents). */
function incidentDurationSeconds(a: AnomalyEvent): number {
  return a.firstSeenMillis === undefined ? 0 : Math.max(0, Math.round((a.timestampMillis - a.firstSeenMillis) / 1000));
}

/**
 * The score an anomaly trigger requires and what it stands for: `min_score`, or the score its
 * `max_false_per_day` resolves to in the live calibration, the higher of the two when both are given.
 * `undefined` when `max_false_per_day` resolves to nothing (the loader refuses such a playbook; metadata
 * built elsewhere then matches nothing rather than everything).
 */
export function anomalyTriggerThreshold(trigger: AnomalyTrigger): { minScore: number; meaning: string } | undefined {
  const given = trigger.min_score ?? 0;
  const maxFalse = trigger.max_false_per_day;
  if (maxFalse === undefined) {
    const rate = falseRateAtScore(given);
    return { minScore: given, meaning: rate === undefined ? '' : `<= ${rate.perSeriesDay} false incidents per series-day at 1 s` };
  }
  const resolved = minScoreForFalseRate(maxFalse);
  if (resolved === undefined) return undefined;
  const fromRate = `max_false_per_day ${maxFalse} -> score >= ${resolved.minScore}, <= ${resolved.perSeriesDay} false incidents per series-day at 1 s`;
  if (resolved.minScore >= given) return { minScore: resolved.minScore, meaning: fromRate };
  const rate = falseRateAtScore(given);
  return { minScore: given, meaning: `min_score ${given} is stricter than ${fromRate}${rate === undefined ? '' : `; it stands for <= ${rate.perSeriesDay}`}` };
}

/** `*` matches any run of characters; everything else is literal. */
function globMatch(pattern: string, value: string): boolean {
  if (!pattern.includes('*')) return pattern === value;
  const regex = new RegExp(`^${pattern.split('*').map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`);
  return regex.test(value);
}

function sameValue(expected: unknown, actual: unknown): boolean {
  if (actual === undefined) return false;
  if (typeof expected === 'string' && typeof actual === 'string') return globMatch(expected, actual);
  const text = (v: unknown): string | undefined => (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean' ? String(v) : undefined);
  const expectedText = text(expected);
  return expectedText !== undefined ? expectedText === text(actual) : JSON.stringify(expected) === JSON.stringify(actual);
}

/** The playbook's triggers that the event matches (pure; shared by the CLI and the scheduler). */
export function matchTriggers(playbook: Playbook | PlaybookMetadata, event: PlaybookEvent): TriggerMatch[] {
  const metadata = 'metadata' in playbook ? playbook.metadata : playbook;
  const matches: TriggerMatch[] = [];
  metadata.triggers.forEach((trigger, index) => {
    if ('anomaly' in trigger) {
      if (event.source !== 'anomaly') return;
      const { metric, agent, direction = 'any', min_duration: minDurationSeconds = 0 } = trigger.anomaly;
      const threshold = anomalyTriggerThreshold(trigger.anomaly);
      if (threshold === undefined) return;
      const minScore = threshold.minScore;
      const a = event.anomaly;
      // An incident that ended is news, not a reason to act; without a minimum duration an incident
      // triggers once, on its `open` (its updates would re-run the playbook whenever the cooldown ends).
      if (a.state === 'resolved' || (a.state === 'update' && !(minDurationSeconds > 0))) return;
      // An incident's update carries the latest sample's score (damped once the detector fired): its peak is what it scored.
      const score = Math.max(a.score, a.peakScore ?? 0);
      if (!globMatch(metric, a.metric) || score < minScore) return;
      if (agent !== undefined && !globMatch(agent, a.agentId)) return;
      const side = anomalyDirection(a);
      if (direction !== 'any' && side !== direction) return;
      const durationSeconds = incidentDurationSeconds(a);
      if (durationSeconds < minDurationSeconds) return;
      const conditions = [`score ${score} >= ${minScore}${threshold.meaning === '' ? '' : ` (${threshold.meaning})`}`];
      if (direction !== 'any') conditions.push(`${side} the expected range`);
      if (minDurationSeconds > 0) conditions.push(`lasting ${durationSeconds} s >= ${minDurationSeconds} s`);
      matches.push({ index, trigger, reason: `anomaly on ${a.metric} with ${conditions.join(', ')}` });
    } else if ('event' in trigger) {
      if (event.source !== 'event') return;
      const { type, ...attributes } = trigger.event;
      const e = event.event;
      if (!globMatch(type, e.type)) return;
      const agent = attributes.agent;
      delete attributes.agent;
      if (agent !== undefined && !sameValue(agent, e.agentId)) return;
      for (const [key, expected] of Object.entries(attributes)) if (!sameValue(expected, e.attributes[key])) return;
      const described = Object.entries(attributes).map(([k, v]) => `${k}=${String(v)}`);
      matches.push({ index, trigger, reason: `event ${e.type}${described.length > 0 ? ` with ${described.join(', ')}` : ''}` });
    } else {
      if (event.source !== 'event' || event.event.type !== 'alert') return;
      const attrs = event.event.attributes;
      if (!sameValue(trigger.alert.name, attrs.name)) return;
      if (trigger.alert.level !== undefined && !sameValue(trigger.alert.level, attrs.level)) return;
      matches.push({ index, trigger, reason: `alert ${String(attrs.name)}` });
    }
  });
  return matches;
}

/** The event as the playbook sees it in `ctx.event`. */
export function eventForLua(event: PlaybookEvent | undefined): Record<string, unknown> | undefined {
  if (event === undefined) return undefined;
  if (event.source === 'anomaly') return { kind: 'anomaly', ...event.anomaly };
  return { kind: event.event.type === 'alert' ? 'alert' : 'event', ...event.event };
}
