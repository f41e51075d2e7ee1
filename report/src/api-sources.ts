import type { ActiveAlertRecord, AlertNotificationRecord, AlertsCollected, Readable, RemediationRecord, ScalingDecisionRecord, ScalingTargetRecord, Source, TaskAttemptRecord, TaskRecord, TasksCollected } from './data.js';
import { redactText } from '@sloth/core';
import { finiteOrNull, getJson, text, type ApiEndpoint, type ApiNames } from './http-json.js';

/** How many records the report asks the scheduler and the alerts service for (their APIs' maximum page). */
export const historyLimit = 1000;

const schedulerNames: ApiNames = { service: 'the scheduler', urlFlag: '--scheduler', tokenFlag: '--scheduler-token' };
const alertsNames: ApiNames = { service: 'the alerts API', urlFlag: '--alerts-url', tokenFlag: '--alerts-token' };

const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

function stringMap(value: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (!isRecord(value)) return out;
  for (const [k, v] of Object.entries(value)) if (typeof v === 'string') out[k] = v;
  return out;
}

const strings = (value: unknown): string[] => (Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : []);

/** The scheduler's remediation log (`GET /api/v1/remediations`); failures become "not available" with the reason. */
export async function readRemediations(scheduler: ApiEndpoint): Promise<Source<RemediationRecord>> {
  const answer = await getJson(scheduler, '/api/v1/remediations?limit=10000', schedulerNames);
  if (!answer.ok) return { available: false, reason: answer.reason };
  const list = isRecord(answer.body) ? answer.body.remediations : undefined;
  if (!Array.isArray(list)) return { available: false, reason: `the scheduler at ${new URL(scheduler.url).origin} answered without a "remediations" list` };
  const items: RemediationRecord[] = [];
  for (const r of list) {
    if (!isRecord(r) || typeof r.id !== 'string' || typeof r.createdAtMillis !== 'number') continue;
    items.push({
      id: r.id,
      agentId: text(r.agentId),
      playbook: text(r.playbook),
      state: text(r.state),
      createdAtMillis: r.createdAtMillis,
      durationMillis: finiteOrNull(r.durationMillis),
      // Masked again here: a scheduler from before the audit log masked secrets serves them as stored.
      message: redactText(text(r.error) || text(r.message) || text(r.reason)),
    });
  }
  return { available: true, items };
}

function scalingDecision(raw: unknown): ScalingDecisionRecord | undefined {
  if (!isRecord(raw) || typeof raw.timestampMillis !== 'number' || typeof raw.replicas !== 'number') return undefined;
  const actuation = isRecord(raw.actuation) ? { kind: text(raw.actuation.kind), detail: text(raw.actuation.detail) } : null;
  return {
    timestampMillis: raw.timestampMillis,
    action: text(raw.action),
    previousReplicas: finiteOrNull(raw.previousReplicas) ?? raw.replicas,
    replicas: raw.replicas,
    demand: finiteOrNull(raw.demand),
    forecastValue: finiteOrNull(raw.forecastValue),
    policyMode: text(raw.mode),
    targetMode: text(raw.targetMode),
    acted: raw.acted === true,
    actuation,
    reasons: strings(raw.reasons),
  };
}

/**
 * Scaling targets and their recorded decisions (`GET /api/v1/scaling`, then
 * `GET /api/v1/scaling/:name/decisions` per target), decisions oldest first.
 */
export async function readScaling(scheduler: ApiEndpoint): Promise<Source<ScalingTargetRecord>> {
  const answer = await getJson(scheduler, '/api/v1/scaling', schedulerNames);
  if (!answer.ok) return { available: false, reason: answer.reason };
  const list = isRecord(answer.body) ? answer.body.targets : undefined;
  if (!Array.isArray(list)) return { available: false, reason: `the scheduler at ${new URL(scheduler.url).origin} answered without a "targets" list` };
  const items: ScalingTargetRecord[] = [];
  for (const t of list) {
    if (!isRecord(t) || typeof t.name !== 'string') continue;
    const decisions = await getJson(scheduler, `/api/v1/scaling/${encodeURIComponent(t.name)}/decisions?limit=${historyLimit}`, schedulerNames);
    if (!decisions.ok) return { available: false, reason: decisions.reason };
    const raw = isRecord(decisions.body) && Array.isArray(decisions.body.decisions) ? decisions.body.decisions : [];
    const parsed = raw.map(scalingDecision).filter((d): d is ScalingDecisionRecord => d !== undefined);
    items.push({
      name: t.name,
      mode: text(t.mode),
      demandSeries: text(t.demandSeries),
      minReplicas: finiteOrNull(t.minReplicas),
      maxReplicas: finiteOrNull(t.maxReplicas),
      // The API lists newest first.
      decisions: parsed.sort((a, b) => a.timestampMillis - b.timestampMillis),
      truncated: raw.length >= historyLimit,
    });
  }
  return { available: true, items: items.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)) };
}

/** How many tasks the report asks the scheduler for (its API's maximum page). */
export const taskLimit = 10_000;

function taskAttempt(raw: unknown, index: number, shown: (value: unknown) => string): TaskAttemptRecord | undefined {
  if (!isRecord(raw) || typeof raw.agentId !== 'string' || typeof raw.placedAtMillis !== 'number' || !Number.isFinite(raw.placedAtMillis)) return undefined;
  const redeliveries = finiteOrNull(raw.redeliveries);
  return {
    attempt: finiteOrNull(raw.attempt) ?? index + 1,
    agentId: shown(raw.agentId),
    placedAtMillis: raw.placedAtMillis,
    startedAtMillis: finiteOrNull(raw.startedAtMillis),
    finishedAtMillis: finiteOrNull(raw.finishedAtMillis),
    outcome: typeof raw.outcome === 'string' ? raw.outcome : null,
    message: shown(raw.message),
    redeliveries: redeliveries === null ? 0 : Math.max(0, Math.floor(redeliveries)),
  };
}

/**
 * The scheduler's tasks (`GET /api/v1/tasks`, the newest {@link taskLimit}).
 * Entries without an id or a creation time are skipped, as are attempts
 * without an agent or a placement time; the task's params are not kept, and
 * the token the report sent never appears in what is kept (a task's text is
 * the submitter's: it could quote it).
 */
export async function readTasks(scheduler: ApiEndpoint): Promise<Readable<TasksCollected>> {
  const answer = await getJson(scheduler, `/api/v1/tasks?limit=${taskLimit}`, schedulerNames);
  if (!answer.ok) return { available: false, reason: answer.reason };
  const list = isRecord(answer.body) ? answer.body.tasks : undefined;
  if (!Array.isArray(list)) return { available: false, reason: `the scheduler at ${new URL(scheduler.url).origin} answered without a "tasks" list` };
  const token = scheduler.token ?? '';
  const shown = (value: unknown): string => (token === '' ? text(value) : text(value).split(token).join('***'));
  const tasks: TaskRecord[] = [];
  for (const t of list) {
    if (!isRecord(t) || typeof t.id !== 'string' || typeof t.createdAtMillis !== 'number' || !Number.isFinite(t.createdAtMillis)) continue;
    const spec = isRecord(t.spec) ? t.spec : {};
    const attempts = (Array.isArray(t.attempts) ? t.attempts : [])
      .map((a, i) => taskAttempt(a, i, shown))
      .filter((a): a is TaskAttemptRecord => a !== undefined)
      .sort((a, b) => a.attempt - b.attempt || a.placedAtMillis - b.placedAtMillis);
    tasks.push({
      id: shown(t.id),
      name: shown(spec.name),
      playbook: shown(spec.playbook),
      command: strings(spec.command).map(shown),
      state: text(t.state),
      createdAtMillis: t.createdAtMillis,
      updatedAtMillis: finiteOrNull(t.updatedAtMillis) ?? t.createdAtMillis,
      reason: shown(t.reason),
      attempts,
    });
  }
  // The API lists newest first.
  tasks.sort((a, b) => a.createdAtMillis - b.createdAtMillis || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  return { available: true, tasks, truncated: list.length >= taskLimit };
}

function notification(raw: unknown): AlertNotificationRecord | undefined {
  if (!isRecord(raw) || typeof raw.atMillis !== 'number') return undefined;
  return {
    atMillis: raw.atMillis,
    receiver: text(raw.receiver),
    groupKey: text(raw.groupKey),
    groupLabels: stringMap(raw.groupLabels),
    firing: strings(raw.firing),
    resolved: strings(raw.resolved),
    outcome: text(raw.outcome),
  };
}

function activeAlert(raw: unknown): ActiveAlertRecord | undefined {
  if (!isRecord(raw) || typeof raw.startsAtMillis !== 'number') return undefined;
  const labels = stringMap(raw.labels);
  return { rule: labels.alertname ?? '', labels, state: text(raw.state), flapping: raw.flapping === true, startsAtMillis: raw.startsAtMillis, endsAtMillis: finiteOrNull(raw.endsAtMillis) };
}

/**
 * The alerts service's notification history (`GET /api/v1/history`, the
 * newest {@link historyLimit}) and the alerts it holds now (`GET /api/v1/alerts`).
 */
export async function readAlerts(alerts: ApiEndpoint): Promise<Readable<AlertsCollected>> {
  const history = await getJson(alerts, `/api/v1/history?limit=${historyLimit}`, alertsNames);
  if (!history.ok) return { available: false, reason: history.reason };
  const list = isRecord(history.body) ? history.body.notifications : undefined;
  if (!Array.isArray(list)) return { available: false, reason: `the alerts API at ${new URL(alerts.url).origin} answered without a "notifications" list` };
  const current = await getJson(alerts, '/api/v1/alerts', alertsNames);
  if (!current.ok) return { available: false, reason: current.reason };
  const activeList = isRecord(current.body) && Array.isArray(current.body.alerts) ? current.body.alerts : [];
  // The service lists newest first; equal times keep that order reversed (the order they were written).
  const notifications = list
    .map(notification)
    .filter((n): n is AlertNotificationRecord => n !== undefined)
    .reverse()
    .map((n, index) => ({ n, index }))
    .sort((a, b) => a.n.atMillis - b.n.atMillis || a.index - b.index)
    .map(({ n }) => n);
  const active = activeList
    .map(activeAlert)
    .filter((a): a is ActiveAlertRecord => a !== undefined)
    .sort((a, b) => a.startsAtMillis - b.startsAtMillis || (a.rule < b.rule ? -1 : a.rule > b.rule ? 1 : 0) || (JSON.stringify(a.labels) < JSON.stringify(b.labels) ? -1 : 1));
  return { available: true, notifications, truncated: list.length >= historyLimit, active };
}
