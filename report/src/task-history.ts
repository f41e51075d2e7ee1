import { redactText, redactUrl } from '@sloth/core';
import type { TaskRecord, TasksCollected } from './data.js';
import { quantile } from './stats.js';

/** What the scheduler's task placement did in the period: the tasks created in it, by state, with waits, runs and failures. Pure. */

/** Task states in the order the report lists them: final ones, then those still on their way. */
export const taskStateOrder = ['succeeded', 'failed', 'cancelled', 'queued', 'waiting', 'placed', 'running', 'retrying'] as const;
const finalStates: ReadonlySet<string> = new Set(['succeeded', 'failed', 'cancelled']);
/** States of a task with no run on an agent that waits for one. */
const waitingStates: ReadonlySet<string> = new Set(['queued', 'waiting', 'retrying']);
const failedOutcomes: ReadonlySet<string> = new Set(['failed', 'timed-out', 'agent-down']);

/** Rows the section lists at most. */
export const taskRowLimits = { failed: 20, waiting: 10, agents: 10 } as const;

export interface TaskStateCount {
  readonly state: string;
  readonly tasks: number;
}

/** Attempts placed on one agent and how those that ended did. */
export interface TaskAgentPlacements {
  readonly agentId: string;
  readonly placements: number;
  readonly succeeded: number;
  /** Failed, timed out, or lost with their agent. */
  readonly failed: number;
}

export interface FailedTaskRow {
  readonly id: string;
  readonly createdAtMillis: number;
  /** The task's name, else what it runs (`playbook <name>` or the command line). */
  readonly task: string;
  /** The agent of its last attempt, '' when it was never placed. */
  readonly agentId: string;
  /** First line of why it failed, without control characters. */
  readonly reason: string;
}

export interface WaitingTaskRow {
  readonly id: string;
  readonly createdAtMillis: number;
  readonly task: string;
  /** Its state when the report read the scheduler. */
  readonly state: string;
  readonly reason: string;
  /** Set when it was placed after the period's end: when and where. */
  readonly placedAfter: { readonly atMillis: number; readonly agentId: string } | null;
}

export interface TaskSection {
  readonly available: true;
  /** Tasks created in the period. */
  readonly tasks: number;
  /** Per state (as the report read them), every known state listed, unknown ones after. */
  readonly states: readonly TaskStateCount[];
  /** Succeeded among the tasks that ran to an end (succeeded or failed; cancelled ones are not counted), in percent. */
  readonly successRatePercent: number | null;
  /** Attempts beyond each task's first. */
  readonly retries: number;
  /** Attempts whose run started again after its first start (redelivered), and how many times in all. */
  readonly redeliveredRuns: number;
  readonly redeliveries: number;
  /** From submission to first placement, over the tasks placed at least once. */
  readonly waitToPlaceMillis: { readonly median: number | null; readonly p95: number | null; readonly tasks: number };
  /** From start to finish of the attempts that ran to an end. */
  readonly runMillis: { readonly median: number | null; readonly runs: number };
  /** The agents with the most placements, most first ({@link taskRowLimits}). */
  readonly agents: readonly TaskAgentPlacements[];
  /** The agents and placements beyond those listed. */
  readonly otherAgents: { readonly agents: number; readonly placements: number };
  /** Newest first, at most {@link taskRowLimits}.failed of {@link TaskSection.failedTotal}. */
  readonly failed: readonly FailedTaskRow[];
  readonly failedTotal: number;
  /** Tasks with no run on an agent at the period's end, oldest first, at most {@link taskRowLimits}.waiting of {@link TaskSection.waitingTotal}. */
  readonly waiting: readonly WaitingTaskRow[];
  readonly waitingTotal: number;
  /** Set when the scheduler's answer was cut at its maximum and its oldest task is after the period's start. */
  readonly historyFromMillis: number | null;
}

// Bidirectional overrides and isolates: they reorder what a reader sees.
const invisible = /[\p{Cc}\u200e\u200f\u202a-\u202e\u2066-\u2069]/gu;
const maxTextChars = 200;

/** User text as one safe line: the first line, tabs as spaces, no control or bidi characters, at most 200 characters. */
export function oneLine(text: string): string {
  const first = text.split(/\r\n|[\r\n\u2028\u2029\u0085]/u)[0] ?? '';
  const clean = first.replace(/\t/g, ' ').replace(invisible, '').trim();
  return clean.length > maxTextChars ? `${clean.slice(0, maxTextChars - 1)}\u2026` : clean;
}

/**
 * What a task said (its reason, an attempt's result message, which carries the end of a command's
 * output) as one safe line, secrets masked: the scheduler masks what it stores, but not records older
 * than that. Masked before the cut, so a secret is not split where the first line ends.
 */
function outputLine(text: string): string {
  return oneLine(redactText(text));
}

/** Names that mark the value after them as a secret: `--token X`, `--password=X`, `Authorization: Bearer X`, `API_KEY=X`. */
const secretName = /token|secret|passw(or)?d|passphrase|authorization|api[-_]?key|credential|private[-_]?key/i;
const urlWithAuthority = /^[a-z][a-z0-9+.-]*:\/\//i;

/** A command line as the report shows it: secret-looking values masked, URLs without credentials or query values. */
export function commandLine(argv: readonly string[]): string {
  const shown = argv.map((arg, i) => {
    const before = argv[i - 1];
    if (i > 0 && before !== undefined && /^-/.test(before) && !before.includes('=') && secretName.test(before)) return '***';
    const pair = /^([^=:\s]+)\s*([=:])/.exec(arg);
    if (pair !== null && secretName.test(pair[1] as string)) return `${pair[1]}${pair[2]}***`;
    if (urlWithAuthority.test(arg)) return redactUrl(arg);
    return /[\s"']/.test(arg) || arg === '' ? JSON.stringify(arg) : arg;
  });
  return shown.join(' ');
}

/** What a task is called in the report: its name, else what it runs. */
function taskLabel(t: TaskRecord): string {
  const name = oneLine(t.name);
  if (name !== '') return name;
  if (t.playbook !== '') return oneLine(`playbook ${t.playbook}`);
  return oneLine(commandLine(t.command));
}

const compareText = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
const rounded = (value: number | null): number | null => (value === null ? null : Math.round(value));

/** Where the task stood at `atMillis`: ended, with a run on an agent, or waiting for one. */
function standing(t: TaskRecord, atMillis: number): 'ended' | 'on-agent' | 'waiting' {
  if (finalStates.has(t.state) && t.updatedAtMillis <= atMillis) return 'ended';
  const onAgent = t.attempts.some((a) => a.placedAtMillis <= atMillis && (a.finishedAtMillis === null || a.finishedAtMillis > atMillis));
  return onAgent ? 'on-agent' : 'waiting';
}

export function taskSection(collected: TasksCollected, fromMillis: number, toMillis: number): TaskSection {
  const own = collected.tasks.filter((t) => t.createdAtMillis >= fromMillis && t.createdAtMillis <= toMillis);

  const counts = new Map<string, number>(taskStateOrder.map((s) => [s, 0]));
  for (const t of own) counts.set(t.state, (counts.get(t.state) ?? 0) + 1);
  const known: readonly string[] = taskStateOrder;
  const states = [...counts].map(([state, tasks]) => ({ state, tasks })).sort((a, b) => {
    const ia = known.indexOf(a.state);
    const ib = known.indexOf(b.state);
    if (ia >= 0 || ib >= 0) return (ia < 0 ? Infinity : ia) - (ib < 0 ? Infinity : ib);
    return compareText(a.state, b.state);
  });
  const succeeded = counts.get('succeeded') ?? 0;
  const ranToEnd = succeeded + (counts.get('failed') ?? 0);

  const attempts = own.flatMap((t) => t.attempts);
  const waits = own.flatMap((t) => (t.attempts[0] === undefined ? [] : [Math.max(0, t.attempts[0].placedAtMillis - t.createdAtMillis)]));
  const runs = attempts.flatMap((a) => (a.startedAtMillis === null || a.finishedAtMillis === null ? [] : [Math.max(0, a.finishedAtMillis - a.startedAtMillis)]));

  const byAgent = new Map<string, { placements: number; succeeded: number; failed: number }>();
  for (const a of attempts) {
    const entry = byAgent.get(a.agentId) ?? { placements: 0, succeeded: 0, failed: 0 };
    entry.placements += 1;
    if (a.outcome === 'succeeded') entry.succeeded += 1;
    if (a.outcome !== null && failedOutcomes.has(a.outcome)) entry.failed += 1;
    byAgent.set(a.agentId, entry);
  }
  const agents = [...byAgent].map(([agentId, e]) => ({ agentId, ...e })).sort((a, b) => b.placements - a.placements || compareText(a.agentId, b.agentId));
  const rest = agents.slice(taskRowLimits.agents);

  const failed = own
    .filter((t) => t.state === 'failed')
    .sort((a, b) => b.createdAtMillis - a.createdAtMillis || compareText(a.id, b.id))
    .map((t): FailedTaskRow => {
      const last = t.attempts[t.attempts.length - 1];
      return { id: oneLine(t.id), createdAtMillis: t.createdAtMillis, task: taskLabel(t), agentId: oneLine(last?.agentId ?? ''), reason: outputLine(t.reason) || outputLine(last?.message ?? '') };
    });

  const waiting = own
    .filter((t) => standing(t, toMillis) === 'waiting')
    .sort((a, b) => a.createdAtMillis - b.createdAtMillis || compareText(a.id, b.id))
    .map((t): WaitingTaskRow => {
      const later = waitingStates.has(t.state) ? undefined : t.attempts.find((a) => a.placedAtMillis > toMillis);
      return {
        id: oneLine(t.id),
        createdAtMillis: t.createdAtMillis,
        task: taskLabel(t),
        state: oneLine(t.state),
        reason: outputLine(t.reason),
        placedAfter: later === undefined ? null : { atMillis: later.placedAtMillis, agentId: oneLine(later.agentId) },
      };
    });

  const oldest = collected.tasks.length === 0 ? undefined : collected.tasks.reduce((m, t) => Math.min(m, t.createdAtMillis), Infinity);
  return {
    available: true,
    tasks: own.length,
    states: states.map((s) => ({ state: oneLine(s.state), tasks: s.tasks })),
    successRatePercent: ranToEnd === 0 ? null : Number(((succeeded / ranToEnd) * 100).toFixed(1)),
    retries: own.reduce((n, t) => n + Math.max(0, t.attempts.length - 1), 0),
    redeliveredRuns: attempts.filter((a) => a.redeliveries > 0).length,
    redeliveries: attempts.reduce((n, a) => n + a.redeliveries, 0),
    waitToPlaceMillis: { median: rounded(quantile(waits, 0.5)), p95: rounded(quantile(waits, 0.95)), tasks: waits.length },
    runMillis: { median: rounded(quantile(runs, 0.5)), runs: runs.length },
    agents: agents.slice(0, taskRowLimits.agents).map((a) => ({ ...a, agentId: oneLine(a.agentId) })),
    otherAgents: { agents: rest.length, placements: rest.reduce((n, a) => n + a.placements, 0) },
    failed: failed.slice(0, taskRowLimits.failed),
    failedTotal: failed.length,
    waiting: waiting.slice(0, taskRowLimits.waiting),
    waitingTotal: waiting.length,
    historyFromMillis: collected.truncated && oldest !== undefined && oldest > fromMillis ? oldest : null,
  };
}
