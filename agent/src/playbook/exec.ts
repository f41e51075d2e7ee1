import { spawn } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { delimiter, isAbsolute, join } from 'node:path';
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
    if (dir === '') continue;
    const candidate = join(dir, command);
    try {
      accessSync(candidate, constants.X_OK);
      return { path: candidate };
    } catch {
      // not here; keep looking
    }
  }
  return { error: `exec: command '${command}' is allowed but was not found on the search path` };
}

/** Runs an allowed command without a shell; kills it (SIGKILL) at the timeout. */
export async function runCommand(path: string, request: ExecRequest, policy: ExecPolicy, signal?: AbortSignal): Promise<ExecResult> {
  const maxBytes = policy.maxOutputBytes ?? defaultMaxOutputBytes;
  return new Promise<ExecResult>((resolve) => {
    let timedOut = false;
    const child = spawn(path, request.argv.slice(1), {
      cwd: request.cwd,
      env: request.env,
      shell: false,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let outBytes = 0;
    let errBytes = 0;
    child.stdout.on('data', (chunk: Buffer) => {
      if (outBytes < maxBytes) out.push(chunk.subarray(0, maxBytes - outBytes));
      outBytes += chunk.length;
    });
    child.stderr.on('data', (chunk: Buffer) => {
      if (errBytes < maxBytes) err.push(chunk.subarray(0, maxBytes - errBytes));
      errBytes += chunk.length;
    });
    const kill = (): void => {
      timedOut = true;
      child.kill('SIGKILL');
    };
    const timer = setTimeout(kill, request.timeoutMillis);
    signal?.addEventListener('abort', kill, { once: true });
    const done = (code: number | null, sig: string | null, extra = ''): void => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', kill);
      resolve({
        code,
        signal: sig,
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8') + extra,
        timedOut,
      });
    };
    child.on('error', (error) => done(127, null, error.message));
    child.on('close', (code, sig) => done(code, sig));
  });
}
