import { chmodSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { resolveAllowedCommand, runCommand } from '../../src/playbook/exec.js';
import { PlaybookRuntime, runPlaybook } from '../../src/playbook/index.js';
import { host, load, tempDir } from './helpers.js';
import { isAlive } from '../process-helpers.js';

// Regression tests for the security review: an `exec` must end at its timeout with everything it
// started, and must never leave a process (or the run) behind.
const temp = tempDir('exec-process');
const runtime = new PlaybookRuntime({ workers: 1 });
const started: number[] = [];
const sh = { allow: ['sh'] };
const env = { PATH: '/usr/local/bin:/usr/bin:/bin' };

beforeAll(async () => {
  await runtime.start();
});
afterAll(async () => {
  // Without the fix the sleeps outlive the tests: do not leave them to the next run. Only a pid that is
  // still one of those sleeps: a pid whose sleep is gone may belong by now to another test's process.
  for (const pid of started) {
    let command = '';
    try {
      command = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    } catch {
      continue; // gone
    }
    if (!command.startsWith('sleep\u0000')) continue;
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  await runtime.shutdown();
  temp.cleanup();
});

/** Whether process `pid` is still running, waiting (bounded) for the kernel to finish a kill. */
async function survives(pid: number): Promise<boolean> {
  for (let i = 0; i < 40 && isAlive(pid); i++) await new Promise((r) => setTimeout(r, 50));
  return isAlive(pid);
}

/** Live (not zombie) members of process group `pgid`. */
function liveMembers(pgid: number): number[] {
  try {
    process.kill(-pgid, 0);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ESRCH') return [];
    throw error;
  }
  // The group still has members; some may be zombies that a container's init has not reaped yet.
  return readdirSync('/proc')
    .filter((name) => /^\d+$/.test(name))
    .filter((name) => {
      try {
        const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
        const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
        return Number(fields[2]) === pgid && fields[0] !== 'Z';
      } catch {
        return false;
      }
    })
    .map(Number);
}

/** Whether any process of group `pgid` is left, waiting (bounded) for the kernel to finish the kill. */
async function groupSurvives(pgid: number): Promise<boolean> {
  for (let i = 0; i < 40 && liveMembers(pgid).length > 0; i++) await new Promise((r) => setTimeout(r, 50));
  return liveMembers(pgid).length > 0;
}

/** The shell's pid (its process group, when it leads one) and its background child's, as the script printed them. */
function pidsOf(stdout: string): { shell: number; child: number } {
  const [shell, child] = stdout.trim().split(/\s+/).map(Number);
  started.push(child!);
  return { shell: shell!, child: child! };
}

describe('exec process lifetime', () => {
  test('a command that runs past its timeout is stopped with its whole process group', async () => {
    const result = await runCommand('/bin/sh', { argv: ['sh', '-c', 'sleep 777 & echo "$$ $!"; wait'], timeoutMillis: 500, env }, sh);
    const { shell, child } = pidsOf(result.stdout);
    expect(result.timedOut).toBe(true);
    expect(result.signal).toBe('SIGTERM');
    expect(await survives(child)).toBe(false);
    expect(await groupSurvives(shell)).toBe(false);
  }, 10_000);

  test('a command that ignores SIGTERM is killed after the grace period', async () => {
    const result = await runCommand('/bin/sh', { argv: ['sh', '-c', 'trap "" TERM; sleep 777 & echo "$$ $!"; while :; do wait; done'], timeoutMillis: 300, env }, sh);
    const { shell, child } = pidsOf(result.stdout);
    expect(result).toMatchObject({ timedOut: true, signal: 'SIGKILL', code: null });
    expect(await survives(child)).toBe(false);
    expect(await groupSurvives(shell)).toBe(false);
  }, 10_000);

  test('a command that exits leaving a background child on its pipes returns, and the child is stopped', async () => {
    const result = await runCommand('/bin/sh', { argv: ['sh', '-c', 'sleep 777 & echo "$$ $!"'], timeoutMillis: 60_000, env }, sh);
    const { shell, child } = pidsOf(result.stdout);
    expect(result).toMatchObject({ code: 0, signal: null, timedOut: false });
    expect(await survives(child)).toBe(false);
    expect(await groupSurvives(shell)).toBe(false);
  }, 10_000);

  test('a background child that let go of the pipes is stopped too once the command exits', async () => {
    const result = await runCommand('/bin/sh', { argv: ['sh', '-c', 'sleep 777 >/dev/null 2>&1 & echo "$$ $!"'], timeoutMillis: 60_000, env }, sh);
    const { shell, child } = pidsOf(result.stdout);
    expect(result).toMatchObject({ code: 0, timedOut: false });
    expect(await survives(child)).toBe(false);
    expect(await groupSurvives(shell)).toBe(false);
  }, 10_000);

  test('an abort (the run ending) stops the process group', async () => {
    const abort = new AbortController();
    setTimeout(() => abort.abort(), 300);
    const result = await runCommand('/bin/sh', { argv: ['sh', '-c', 'sleep 777 & echo "$$ $!"; wait'], timeoutMillis: 60_000, env }, sh, abort.signal);
    const { shell, child } = pidsOf(result.stdout);
    expect(result.timedOut).toBe(true);
    expect(await survives(child)).toBe(false);
    expect(await groupSurvives(shell)).toBe(false);
  }, 10_000);

  test('the whole output of a command that exits normally is kept', async () => {
    const result = await runCommand('/bin/sh', { argv: ['sh', '-c', "head -c 3000000 /dev/zero | tr '\\0' a; echo err >&2"], timeoutMillis: 60_000, env }, { allow: ['sh'], maxOutputBytes: 4_000_000 });
    expect(result).toMatchObject({ code: 0, timedOut: false, stderr: 'err\n' });
    expect(result.stdout.length).toBe(3_000_000);
  }, 10_000);

  test('a playbook exec of a shell that backgrounds a sleep ends at its own timeout, well inside the run timeout', async () => {
    const h = host(temp.dir, { allowExec: ['sh'] });
    const playbook = await load(runtime, 'local r = exec({ "sh", "-c", "sleep 777 & echo $$ $!; wait" }, { timeout = 1 }) return r.timed_out, r.stdout', 'timeout = 30,');
    const result = await runPlaybook(playbook, { host: h, runtime });
    expect(result.ok).toBe(true);
    const { shell, child } = pidsOf(result.message);
    expect(await survives(child)).toBe(false);
    expect(await groupSurvives(shell)).toBe(false);
  }, 10_000);
});

describe('exec command resolution', () => {
  const bin = (name: string): string => join(temp.dir, name);

  test('a relative search-path entry is skipped: it would be started relative to the command cwd, not the agent cwd', () => {
    mkdirSync(bin('rel'), { recursive: true });
    mkdirSync(bin('abs'), { recursive: true });
    for (const dir of ['rel', 'abs']) {
      writeFileSync(join(bin(dir), 'tool'), '#!/bin/sh\necho hi\n');
      chmodSync(join(bin(dir), 'tool'), 0o755);
    }
    const rel = relative(process.cwd(), bin('rel'));
    expect(resolveAllowedCommand('tool', { allow: ['tool'], searchPath: `${rel}:${bin('abs')}` }, '')).toEqual({ path: join(bin('abs'), 'tool') });
    expect(resolveAllowedCommand('tool', { allow: ['tool'], searchPath: `.:${rel}` }, '')).toEqual({ error: "exec: command 'tool' is allowed but was not found on the search path" });
  });

  test('a directory with the command name does not shadow the command', () => {
    mkdirSync(join(bin('dir-first'), 'tool2'), { recursive: true, mode: 0o755 });
    mkdirSync(bin('file-second'), { recursive: true });
    writeFileSync(join(bin('file-second'), 'tool2'), '#!/bin/sh\necho hi\n');
    chmodSync(join(bin('file-second'), 'tool2'), 0o755);
    expect(resolveAllowedCommand('tool2', { allow: ['tool2'], searchPath: `${bin('dir-first')}:${bin('file-second')}` }, '')).toEqual({ path: join(bin('file-second'), 'tool2') });
  });
});
