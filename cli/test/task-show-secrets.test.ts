import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// Runs the built CLI (`npx tsc -b` first), as a user would, against a stand-in scheduler API that
// answers with a task stored before the scheduler masked command output.
const root = fileURLToPath(new URL('../../', import.meta.url));
const main = join(root, 'cli', 'dist', 'src', 'main.js');
const dir = mkdtempSync(join(tmpdir(), 'sloth-task-show-'));
const token = 'cli-read-token-0123456789';
const output = ['exit code 1', 'stdout:', '> Authorization: Bearer live-bearer-8f14e45f', 'DB_PASSWORD=hunter2 DB_USER=app', `seen ${token}`, 'stderr:', '3 tokens left'].join('\n');
const record = {
  id: 'task-0123abcd',
  spec: { command: ['env'], priority: 0, resources: { cpuCores: 0.1, memoryMb: 16 } },
  state: 'failed',
  submittedBy: 'ops',
  createdAtMillis: 1_767_225_600_000,
  updatedAtMillis: 1_767_225_601_000,
  decision: null,
  reason: 'attempt 1 failed: exit code 1 (password=hunter2)',
  attempts: [{ attempt: 1, agentId: 'c1', runId: 'task-0123abcd.a1', placedAtMillis: 1_767_225_600_000, startedAtMillis: 1_767_225_600_500, finishedAtMillis: 1_767_225_601_000, outcome: 'failed', message: output }],
  avoidAgents: ['c1'],
};
let server: Server;
let schedulerUrl = '';

beforeAll(async () => {
  server = createServer((request, response) => {
    const found = request.method === 'GET' && request.url === `/api/v1/tasks/${record.id}`;
    response.writeHead(found ? 200 : 404, { 'content-type': 'application/json' });
    response.end(JSON.stringify(found ? record : { code: 'SLOTH_ERR_NOT_FOUND', message: 'no such task' }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  schedulerUrl = `http://127.0.0.1:${typeof address === 'object' && address !== null ? address.port : 0}`;
});
afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
  rmSync(dir, { recursive: true, force: true });
});

/** The CLI run asynchronously: the stand-in API answers from this process. */
function sloth(...args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [main, ...args], { cwd: dir, env: { ...process.env, NO_COLOR: '1', SLOTH_DATA_DIR: dir } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('sloth task show', () => {
  it('masks secrets in the reason and the command output it prints, and in --json, including the token it used', async () => {
    const shown = await sloth('task', 'show', record.id, '--scheduler', schedulerUrl, '--token', token);
    expect(shown.stderr).toBe('');
    expect(shown.code).toBe(0);
    expect(shown.stdout).toMatch(/^reason +attempt 1 failed: exit code 1 \(password=\*\*\*\)$/m);
    expect(shown.stdout).toContain(['  stdout:', '  > Authorization: Bearer ***', '  DB_PASSWORD=*** DB_USER=app', '  seen ***', '  stderr:', '  3 tokens left'].join('\n'));
    const json = await sloth('task', 'show', record.id, '--scheduler', schedulerUrl, '--token', token, '--json');
    expect(json.code).toBe(0);
    expect((JSON.parse(json.stdout) as { attempts: Array<{ message: string }> }).attempts[0]?.message).toContain('Bearer ***');
    for (const text of [shown.stdout, json.stdout]) for (const secret of ['live-bearer-8f14e45f', 'hunter2', token]) expect(text).not.toContain(secret);
  }, 120_000);
});
