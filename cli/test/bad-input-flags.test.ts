import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/**
 * Malformed flag values and malformed answers given to the built CLI (brief E part 2): each ends
 * with a non-zero exit and an error naming the flag (or the address) and the bad value, never a
 * stack trace, a hang or an exit 0. Runs `cli/dist` (`npx tsc -b` first).
 */

const root = fileURLToPath(new URL('../../', import.meta.url));
const main = join(root, 'cli', 'dist', 'src', 'main.js');
const dir = mkdtempSync(join(tmpdir(), 'sloth-bad-input-flags-'));
const deadUrl = 'http://127.0.0.1:9';
let notAlerts: Server;
let notAlertsUrl = '';

beforeAll(async () => {
  writeFileSync(join(dir, 'deep.json'), `${'['.repeat(100_000)}${']'.repeat(100_000)}`);
  writeFileSync(join(dir, 'three-columns.csv'), 'timestamp,requests,errors\n1700000000,120,3\n1700000060,130,2\n');
  writeFileSync(join(dir, 'trace.csv'), ['timestamp,value', ...Array.from({ length: 50 }, (_, i) => `${1_700_000_000 + i * 60},${10 + (i % 7)}`)].join('\n'));
  // Something that is not the alerts API: a web page where JSON was expected.
  notAlerts = createServer((_req, res) => {
    res.writeHead(502, { 'content-type': 'text/html' });
    res.end('<html><body>Bad gateway</body></html>');
  });
  await new Promise<void>((resolve) => notAlerts.listen(0, '127.0.0.1', resolve));
  const address = notAlerts.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  notAlertsUrl = `http://127.0.0.1:${address.port}`;
});

afterAll(async () => {
  await new Promise((resolve) => notAlerts.close(resolve));
  rmSync(dir, { recursive: true, force: true });
});

async function sloth(args: readonly string[]): Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }> {
  // Asynchronous: the test's own HTTP server must keep answering while the CLI runs.
  const child = spawn(process.execPath, [main, ...args], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
  const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) => child.once('exit', (c, s) => resolve([c, s])));
  clearTimeout(timer);
  return { code, signal, stdout, stderr };
}

function expectClearError(run: { code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }, ...mentions: Array<string | RegExp>): void {
  const where = `stdout: ${run.stdout}\nstderr: ${run.stderr}`;
  expect(run.signal, `killed after 30 s (a hang)\n${where}`).toBeNull();
  expect(run.code, where).not.toBe(0);
  expect(run.stderr, where).not.toMatch(/\n\s+at /);
  expect(run.stderr, where).not.toMatch(/unexpected error/);
  for (const mention of mentions) expect(run.stderr, where).toMatch(mention);
}

const trace = (): string => join(dir, 'trace.csv');

describe('flag values', () => {
  const cases: Array<[string, () => string[], Array<string | RegExp>]> = [
    ['status --timeout abc', () => ['status', '--timeout', 'abc', '--collector', deadUrl], ['--timeout', '"abc"']],
    ['status --timeout -5', () => ['status', '--timeout', '-5', '--collector', deadUrl], ['--timeout', '"-5"']],
    ['report --timeout 1.5', () => ['report', '--timeout', '1.5', '--collector', deadUrl], ['--timeout', '"1.5"']],
    ['bench forecast --horizon 0', () => ['bench', 'forecast', '--data', dir, '--horizon', '0'], ['--horizon', '0']],
    ['up --stop-timeout -1', () => ['up', '--stop-timeout', '-1', '--redis-url', 'redis://127.0.0.1:9', '--data-dir', join(dir, 'up')], ['--stop-timeout', '"-1"']],
    ['forecast --max-history 0', () => ['forecast', '-i', trace(), '--train-until', '1700002940', '-n', '3', '-o', join(dir, 'f.csv'), '--no-mlp', '--max-history', '0'], ['--max-history', '"0"']],
    ['forecast --max-history -10', () => ['forecast', '-i', trace(), '--train-until', '1700002940', '-n', '3', '-o', join(dir, 'f.csv'), '--no-mlp', '--max-history', '-10'], ['--max-history', '"-10"']],
    ['playbook run --event nested 100,000 deep', () => ['playbook', 'run', join(root, 'playbooks', 'kill-top-cpu.lua'), '--dry-run', '--event', join(dir, 'deep.json')], [join(dir, 'deep.json'), /deeper than 64/]],
    ['scale plan --startup-steps past the trace', () => ['scale', 'plan', '--trace', trace(), '--capacity-per-replica', '5', '--startup-steps', '99999999999', '-o', join(dir, 'plan.csv')], ['--startup-steps 99999999999', /50 rows/]],
    ['dashboards build --check --out FILE', () => ['dashboards', 'build', '--check', '--out', trace()], [trace(), /ENOTDIR/]],
    ['agent drain "" (an empty id)', () => ['agent', 'drain', '', '--scheduler', deadUrl, '--token', 'x'], ['agent id is empty']],
    ['task submit --constraint zone twice', () => ['task', 'submit', '--playbook', 'x', '--cpu', '1', '--memory-mb', '1', '--constraint', 'zone=eu', '--constraint', 'zone=us', '--scheduler', deadUrl, '--token', 'x'], ['--constraint zone is given twice', '"eu"', '"us"']],
    ['scale plan --trace with three columns', () => ['scale', 'plan', '--trace', join(dir, 'three-columns.csv'), '--capacity-per-replica', '5', '--startup-steps', '1'], ['line 2: 3 fields; expected two']],
    ['task list --state bogus', () => ['task', 'list', '--state', 'bogus', '--scheduler', deadUrl, '--token', 'x'], ['--state', 'bogus', 'waiting']],
    // Under sloth up a role's port is its own flag, not the role command's --port.
    ['up --collector-port 99999 --scheduler-metrics-port 70000', () => ['up', '--collector-port', '99999', '--scheduler-metrics-port', '70000', '--redis-url', 'redis://127.0.0.1:9', '--data-dir', join(dir, 'up')], ['collector.port = 99999 (flag --collector-port)', 'scheduler.metricsPort = 70000 (flag --scheduler-metrics-port)']],
  ];
  for (const [name, args, mentions] of cases) {
    it(name, async () => {
      expectClearError(await sloth(args()), ...mentions);
    });
  }
  it('scale plan with a valid trace still plans (the checks do not refuse good input)', async () => {
    const run = await sloth(['scale', 'plan', '--trace', trace(), '--capacity-per-replica', '5', '--startup-steps', '1', '-o', join(dir, 'plan.csv')]);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
  });
});

describe('answers that are not the API asked for', () => {
  it('alerts list against a server answering HTML names the address', async () => {
    expectClearError(await sloth(['alerts', 'list', '--alerts', notAlertsUrl, '--token', 'x']), notAlertsUrl, /not JSON/);
  });
});
