import type { PlaybookLimitName, PlaybookLimits } from './types.js';

// What the host and the sandbox's worker thread exchange. Kept apart from
// sandbox.ts so that the host side never loads the Lua VM (wasmoon).

/** Sane defaults for one run. */
export const defaultPlaybookLimits: PlaybookLimits = Object.freeze({
  timeoutMillis: 30_000,
  maxInstructions: 200_000_000,
  maxMemoryBytes: 64 * 1024 * 1024,
  hardKillGraceMillis: 1_000,
});

/** Log records one run may send to the host; more are counted and dropped (a log loop must not flood the host). */
export const maxLogRecordsPerRun = 1000;

/** Longest log message kept, in characters. */
export const maxLogMessageChars = 8192;

/** A job for the sandbox: evaluate a playbook file, and for `run` call its `run(ctx)`. */
export interface SandboxJob {
  kind: 'describe' | 'run';
  source: string;
  fileName: string;
  limits: PlaybookLimits;
  /** The `ctx` table for `run` (JSON-safe). */
  ctx?: Record<string, unknown>;
}

/** How a job ended. `describe` returns the playbook table as plain data (functions become `{ $function: true }`). */
export interface SandboxOutcome {
  status: 'ok' | 'failed' | 'syntax' | 'runtime' | 'limit' | 'forbidden' | 'internal';
  message: string;
  /** Absolute time (ms since epoch, sub-ms precision) the chunk started executing. */
  chunkStartMillis: number;
  limit?: PlaybookLimitName;
  forbidden?: string;
  table?: unknown;
  instructions: number;
  /** Log records dropped over {@link maxLogRecordsPerRun}. */
  droppedLogs: number;
}

/** A reply of the host to a synchronous call. */
export type HostReply = { ok: true; value?: unknown } | { ok: false; err: string; stop?: PlaybookLimitName; forbidden?: boolean };

export function nowMillis(): number {
  return performance.timeOrigin + performance.now();
}

const limitMessages: Record<PlaybookLimitName, string> = {
  timeout: 'wall-clock timeout',
  instructions: 'instruction budget',
  memory: 'memory cap',
};

export function limitMessage(limit: PlaybookLimitName, limits: PlaybookLimits): string {
  const value =
    limit === 'timeout' ? `${limits.timeoutMillis} ms` : limit === 'instructions' ? `${limits.maxInstructions} instructions` : `${limits.maxMemoryBytes} bytes`;
  return `playbook stopped: it exceeded its ${limitMessages[limit]} (limit ${limit}: ${value})`;
}
