/**
 * The playbook a command task runs, in the agent's real Lua sandbox with a real `exec`: what it logs (the
 * agent exports its logs to the collector) and the output tail it returns in the result message.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { LocalPlaybookHost, loadPlaybook, runPlaybook, shutdownPlaybookRuntime } from '@sloth/agent/playbook';
import { commandPlaybook } from '@sloth/scheduler';

const dir = mkdtempSync(join(tmpdir(), 'sloth-command-task-'));
afterAll(async () => {
  await shutdownPlaybookRuntime();
  rmSync(dir, { recursive: true, force: true });
});

async function runCommand(argv: string[]): Promise<{ message: string; logged: string[] }> {
  const logged: string[] = [];
  const host = new LocalPlaybookHost({ stateDir: join(dir, 'state'), allowExec: [argv[0] ?? ''], print: (line) => void logged.push(line) });
  const spec = commandPlaybook(argv, 10);
  const playbook = await loadPlaybook(spec.source, spec.fileName);
  const result = await runPlaybook(playbook, { host });
  return { message: result.message, logged };
}

describe('command task playbook', () => {
  it('logs the sizes of what the command printed, never the output itself', async () => {
    const { message, logged } = await runCommand(['sh', '-c', 'echo PGPASSWORD=hunter2-secret; echo oops >&2']);
    expect(message).toBe('exit code 0\nstdout:\nPGPASSWORD=hunter2-secret\n\nstderr:\noops\n');
    const finished = logged.find((line) => line.includes('command finished'));
    expect(finished).toContain('"stdout_bytes":26');
    expect(finished).toContain('"stderr_bytes":5');
    expect(logged.join('\n')).not.toContain('hunter2');
  });

  it('cuts a long output at a line start, so no kept line begins mid-way (a key cut to its end would hide a secret)', async () => {
    // 2,900 bytes of "password=…" lines of 29 bytes: the last 2,000 bytes start inside a line.
    const { message } = await runCommand(['sh', '-c', 'i=0; while [ $i -lt 100 ]; do printf "password=s3cr3t-value-%06d\\n" $i; i=$((i+1)); done']);
    const stdout = message.split('\nstdout:\n')[1] ?? '';
    expect(stdout.startsWith('…password=s3cr3t-value-')).toBe(true);
    const lines = stdout.slice(1).trimEnd().split('\n');
    expect(lines.every((line) => /^password=s3cr3t-value-\d{6}$/.test(line))).toBe(true);
    expect(lines.at(-1)).toBe('password=s3cr3t-value-000099');
    expect(Buffer.byteLength(stdout.slice(1))).toBeLessThanOrEqual(2000);
  });

  it('keeps the end of one long line that has no line break to cut at', async () => {
    const { message } = await runCommand(['sh', '-c', 'i=0; while [ $i -lt 300 ]; do printf "abcdefghij"; i=$((i+1)); done']);
    const stdout = message.split('\nstdout:\n')[1] ?? '';
    expect(stdout).toBe(`…${'abcdefghij'.repeat(200)}`);
  });
});
