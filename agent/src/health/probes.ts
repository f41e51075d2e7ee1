import { spawn } from 'node:child_process';
import { statfs } from 'node:fs/promises';
import { Socket } from 'node:net';
import os from 'node:os';
import { processEnv } from '@sloth/core/config';
import { signalGroup } from '../process-group.js';
import type { HealthCheckConfig } from './check-config.js';

/** The outcome of one probe attempt. */
export interface ProbeOutcome {
  readonly ok: boolean;
  readonly message: string;
}

/** Longest command output kept in a message. */
const maxOutputChars = 200;

function pct(x: number): string {
  return `${(x * 100).toFixed(1)}%`;
}

/** Most of a response body an http check reads (for `bodyMatch`); the rest is never downloaded. */
export const maxProbeBodyBytes = 64 * 1024;

/** Reads at most `maxBytes` of a body, then cancels it (which closes the connection). */
async function readCapped(body: ReadableStream<Uint8Array> | null, maxBytes: number): Promise<string> {
  if (body === null) return '';
  const reader = body.getReader();
  const chunks: Uint8Array[] = [];
  let bytes = 0;
  try {
    while (bytes < maxBytes) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value.subarray(0, maxBytes - bytes));
      bytes += value.length;
    }
  } finally {
    await reader.cancel().catch(() => undefined);
  }
  return new TextDecoder().decode(Buffer.concat(chunks));
}

async function probeHttp(check: Extract<HealthCheckConfig, { type: 'http' }>, timeoutMillis: number): Promise<ProbeOutcome> {
  try {
    const response = await fetch(check.target, { signal: AbortSignal.timeout(timeoutMillis), redirect: 'manual' });
    // The verdict needs the status and, for bodyMatch, the start of the body: a target that streams
    // an endless body must not cost the agent more than that.
    const body = check.bodyMatch === undefined ? '' : await readCapped(response.body, maxProbeBodyBytes);
    if (check.bodyMatch === undefined) await response.body?.cancel().catch(() => undefined);
    const statusOk = check.expectStatus === undefined ? response.status >= 200 && response.status < 400 : check.expectStatus.includes(response.status);
    if (!statusOk) return { ok: false, message: `HTTP ${response.status}` };
    if (check.bodyMatch !== undefined && !new RegExp(check.bodyMatch).test(body)) {
      return { ok: false, message: `HTTP ${response.status}, body does not match /${check.bodyMatch}/ (in its first ${maxProbeBodyBytes} bytes)` };
    }
    return { ok: true, message: `HTTP ${response.status}` };
  } catch (error) {
    const e = error as Error & { cause?: { code?: string } };
    if (e.name === 'TimeoutError') return { ok: false, message: `no answer within ${timeoutMillis} ms` };
    return { ok: false, message: e.cause?.code ?? e.message };
  }
}

async function probeTcp(target: string, timeoutMillis: number): Promise<ProbeOutcome> {
  const colon = target.lastIndexOf(':');
  const host = target.slice(0, colon).replace(/^\[|\]$/g, '');
  const port = Number(target.slice(colon + 1));
  return await new Promise((resolve) => {
    const socket = new Socket();
    const done = (outcome: ProbeOutcome): void => {
      socket.destroy();
      resolve(outcome);
    };
    socket.setTimeout(timeoutMillis, () => done({ ok: false, message: `no connection within ${timeoutMillis} ms` }));
    socket.once('error', (error: NodeJS.ErrnoException) => done({ ok: false, message: error.code ?? error.message }));
    socket.connect(port, host, () => done({ ok: true, message: `connected to ${target}` }));
  });
}

/** Environment keys a check command inherits from the agent: enough to find programs and speak the locale, never a token or a Redis URL. */
const commandEnvKeys = /^(PATH|HOME|USER|LOGNAME|TMPDIR|TZ|LANG|LANGUAGE|LC_[A-Z]+)$/;

function commandEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(processEnv())) if (value !== undefined && commandEnvKeys.test(key)) env[key] = value;
  return env;
}

/**
 * Runs argv without a shell, in its own process group, killed (with its
 * children) at the timeout, with a minimal environment (`commandEnvKeys`):
 * the agent's own variables (`SLOTH_AGENT_TOKEN`, `REDIS_URL`…) are not
 * passed on.
 */
export async function probeCommand(argv: readonly string[], timeoutMillis: number): Promise<ProbeOutcome> {
  const [program, ...args] = argv;
  if (program === undefined) return { ok: false, message: 'empty argv' };
  return await new Promise((resolve) => {
    let output = '';
    let settled = false;
    let timedOut = false;
    const child = spawn(program, args, { shell: false, env: commandEnv(), detached: process.platform !== 'win32', stdio: ['ignore', 'pipe', 'pipe'], windowsHide: true });
    const append = (chunk: Buffer): void => {
      if (output.length < maxOutputChars) output += chunk.toString('utf8');
    };
    child.stdout.on('data', append);
    child.stderr.on('data', append);
    const kill = (): void => {
      if (process.platform !== 'win32') signalGroup(child.pid, 'SIGKILL');
      else child.kill('SIGKILL');
    };
    const timer = setTimeout(() => {
      timedOut = true;
      kill();
    }, timeoutMillis);
    const finish = (outcome: ProbeOutcome): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(outcome);
    };
    child.once('error', (error: NodeJS.ErrnoException) => finish({ ok: false, message: `cannot run ${program}: ${error.code ?? error.message}` }));
    child.once('close', (code, signal) => {
      const text = output.trim().slice(0, maxOutputChars);
      if (timedOut) finish({ ok: false, message: `killed after ${timeoutMillis} ms timeout` });
      else if (code === 0) finish({ ok: true, message: text === '' ? 'exit 0' : `exit 0: ${text}` });
      else finish({ ok: false, message: `${signal !== null ? `killed by ${signal}` : `exit ${code}`}${text === '' ? '' : `: ${text}`}` });
    });
  });
}

async function probeDisk(path: string, max: number): Promise<ProbeOutcome> {
  try {
    const s = await statfs(path);
    const used = (s.blocks - s.bfree) * s.bsize;
    const avail = s.bavail * s.bsize;
    const utilization = used + avail > 0 ? used / (used + avail) : 0;
    return { ok: utilization <= max, message: `${path} ${pct(utilization)} used (limit ${pct(max)})` };
  } catch (error) {
    return { ok: false, message: `cannot stat ${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}` };
  }
}

function probeMemory(max: number): ProbeOutcome {
  const total = os.totalmem();
  const utilization = (total - os.freemem()) / total;
  return { ok: utilization <= max, message: `memory ${pct(utilization)} used (limit ${pct(max)})` };
}

/** CPU busy share between two calls of the same tracker. */
export class CpuWindow {
  private previous = CpuWindow.times();

  private static times(): { busy: number; total: number } {
    let busy = 0;
    let total = 0;
    for (const c of os.cpus()) {
      const t = c.times;
      const all = t.user + t.nice + t.sys + t.idle + t.irq;
      total += all;
      busy += all - t.idle;
    }
    return { busy, total };
  }

  utilization(): number {
    const now = CpuWindow.times();
    const total = now.total - this.previous.total;
    const busy = now.busy - this.previous.busy;
    this.previous = now;
    return total > 0 ? Math.min(1, Math.max(0, busy / total)) : 0;
  }
}

/** Runs one attempt of a check. */
export async function probe(check: HealthCheckConfig, cpu: CpuWindow): Promise<ProbeOutcome> {
  const timeoutMillis = Math.round(check.timeout * 1000);
  switch (check.type) {
    case 'http':
      return await probeHttp(check, timeoutMillis);
    case 'tcp':
      return await probeTcp(check.target, timeoutMillis);
    case 'command':
      return await probeCommand(check.argv, timeoutMillis);
    case 'disk':
      return await probeDisk(check.target, check.maxUtilization);
    case 'memory':
      return probeMemory(check.maxUtilization);
    case 'cpu': {
      const u = cpu.utilization();
      return { ok: u <= check.maxUtilization, message: `CPU ${pct(u)} busy (limit ${pct(check.maxUtilization)})` };
    }
  }
}
