import { spawn } from 'node:child_process';
import { accessSync, constants, statSync } from 'node:fs';
import { delimiter, isAbsolute, join } from 'node:path';
import { signalGroup } from '../process-group.js';
import type { ExecPolicy } from './types.js';

export interface ExecRequest {
  argv: string[];
  timeoutMillis: number;
  env: Record<string, string>;
  cwd?: string;
}

export interface ExecResult {
  /** Exit code, or null when a signal ended the process. */
  code: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
}

const defaultMaxOutputBytes = 1024 * 1024;

/** Checks argv[0] against the allow-list and resolves it to an absolute path, or explains why not. */
export function resolveAllowedCommand(command: string, policy: ExecPolicy, hostPath: string): { path: string } | { error: string } {
  if (command === '') return { error: 'exec: argv[1] (the command) is empty' };
  if (!policy.allow.includes(command)) {
    return { error: `exec: command '${command}' is not on the exec allow-list (allowed: ${policy.allow.length === 0 ? 'none' : policy.allow.join(', ')})` };
  }
  if (command.includes('/')) {
    if (!isAbsolute(command)) return { error: `exec: command '${command}' must be a bare name or an absolute path` };
    return { path: command };
  }
  for (const dir of (policy.searchPath ?? hostPath).split(delimiter)) {
    // A relative entry ('', '.', 'bin') would be checked against the agent's cwd but started from the command's.
    if (!isAbsolute(dir)) continue;
    const candidate = join(dir, command);
    try {
      // X_OK alone passes a searchable directory (and anything at all for root): require a regular file.
      if (!statSync(candidate).isFile()) continue;
      accessSync(candidate, constants.X_OK);
      return { path: candidate };
    } catch {
      // not here; keep looking
    }
  }
  return { error: `exec: command '${command}' is allowed but was not found on the search path` };
}

/** How long a command (its process group) has after SIGTERM before SIGKILL. */
const killGraceMillis = 500;
/** How long, after the command exited, its output may take to arrive before its pipes are closed. */
const drainMillis = 200;

/**
 * Runs an allowed command without a shell, in its own process group. At the
 * timeout (or when `signal` aborts: the run ended) the whole group gets
 * SIGTERM, then SIGKILL after a short grace. The call returns once the
 * command itself exited and its output was drained (at most `drainMillis`);
 * whatever it left running in its group (`sh -c "x &"`) is then killed:
 * an exec never outlives its call, and a daemon must be started through a
 * service manager (`systemctl start`), which does not leave it in the group.
 */
export async function runCommand(path: string, request: ExecRequest, policy: ExecPolicy, signal?: AbortSignal): Promise<ExecResult> {
  const maxBytes = policy.maxOutputBytes ?? defaultMaxOutputBytes;
  return new Promise<ExecResult>((resolve) => {
    let timedOut = false;
    let settled = false;
    let exit: { code: number | null; signal: string | null } | undefined;
    let killTimer: NodeJS.Timeout | undefined;
    let drainTimer: NodeJS.Timeout | undefined;
    const child = spawn(path, request.argv.slice(1), {
      cwd: request.cwd,
      env: request.env,
      shell: false,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let outBytes = 0;
    let errBytes = 0;
    let openStreams = 2;
    child.stdout.on('data', (chunk: Buffer) => {
      if (outBytes < maxBytes) out.push(chunk.subarray(0, maxBytes - outBytes));
      outBytes += chunk.length;
    });
    child.stderr.on('data', (chunk: Buffer) => {
      if (errBytes < maxBytes) err.push(chunk.subarray(0, maxBytes - errBytes));
      errBytes += chunk.length;
    });
    const stop = (): void => {
      // Once the command exited, `done` (at most drainMillis later) kills what is left anyway.
      if (settled || timedOut || exit !== undefined) return;
      timedOut = true;
      signalGroup(child.pid, 'SIGTERM');
      killTimer = setTimeout(() => signalGroup(child.pid, 'SIGKILL'), killGraceMillis);
    };
    const timer = setTimeout(stop, request.timeoutMillis);
    signal?.addEventListener('abort', stop, { once: true });
    const done = (code: number | null, sig: string | null, extra = ''): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      clearTimeout(killTimer);
      clearTimeout(drainTimer);
      signal?.removeEventListener('abort', stop);
      // The command has exited: anything left in its group (a background child, possibly still holding
      // the pipes) goes with it. The group id is the command's pid, which the kernel does not hand out
      // again while a member of the group is alive.
      signalGroup(child.pid, 'SIGKILL');
      child.stdout.destroy();
      child.stderr.destroy();
      resolve({
        code,
        signal: sig,
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8') + extra,
        timedOut,
      });
    };
    const streamClosed = (): void => {
      openStreams -= 1;
      if (openStreams === 0 && exit !== undefined) done(exit.code, exit.signal);
    };
    child.stdout.once('close', streamClosed);
    child.stderr.once('close', streamClosed);
    child.once('error', (error) => done(127, null, error.message));
    child.once('exit', (code, sig) => {
      exit = { code, signal: sig };
      if (openStreams === 0) done(code, sig);
      else drainTimer = setTimeout(() => done(code, sig), drainMillis);
    });
    if (signal?.aborted === true) stop();
  });
}
