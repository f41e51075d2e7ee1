import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, test } from 'vitest';

// Runs the built CLI (`npx tsc -b` first), as a user would.
const root = fileURLToPath(new URL('../../', import.meta.url));
const main = join(root, 'cli', 'dist', 'src', 'main.js');
const dir = mkdtempSync(join(tmpdir(), 'sloth-playbook-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function sloth(...args: string[]): { code: number | null; stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, [main, ...args], { cwd: dir, encoding: 'utf8', timeout: 60_000 });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

test('playbook run prints logs, actions, result and duration; exit 0 on ok', () => {
  const result = sloth('playbook', 'run', join(root, 'playbooks', 'collect-metrics.lua'), '--param', 'cpu_threshold=-1');
  expect(result.stderr).toBe('');
  expect(result.code).toBe(0);
  expect(result.stdout).toMatch(/\[metric\] gauge task_duration 45\.2/);
  expect(result.stdout).toMatch(/\[info\] system usage \{"cpu_percent":[\d.]+,"memory_percent":[\d.]+\}|\[info\] system usage \{"memory_percent":[\d.]+,"cpu_percent":[\d.]+\}/);
  expect(result.stdout).toMatch(/\[alert\] high_cpu \(warning\)/);
  expect(result.stdout).toMatch(/result: ok: Metrics collected successfully/);
  expect(result.stdout).toMatch(/duration: [\d.]+ ms/);
}, 180_000);

test('playbook run exits 1 on failure and on a bad param, naming it', () => {
  const file = join(dir, 'fail.lua');
  writeFileSync(file, 'return { name = "fail", description = "d", params = { n = { type = "integer", required = true } }, run = function(ctx) return false, "n was " .. ctx.params.n end }');
  const failed = sloth('playbook', 'run', file, '--param', 'n=3');
  expect(failed.code).toBe(1);
  expect(failed.stdout).toMatch(/result: FAILED: n was 3/);
  const bad = sloth('playbook', 'run', file, '--param', 'n=three');
  expect(bad.code).toBe(1);
  expect(bad.stdout).toMatch(/param 'n' must be an integer, got string "three"/);
}, 180_000);

test('playbook run keeps state under ./.sloth/agent/state and runs allowed commands', () => {
  const file = join(dir, 'state.lua');
  writeFileSync(file, 'return { name = "s", description = "d", run = function() local r = exec({ "echo", "hi" }) return true, r.stdout:sub(1, 2) .. state.incr("runs") end }');
  expect(sloth('playbook', 'run', file, '--allow-exec', 'echo').stdout).toMatch(/result: ok: hi1/);
  expect(sloth('playbook', 'run', file, '--allow-exec', 'echo').stdout).toMatch(/result: ok: hi2/);
  const refused = sloth('playbook', 'run', file);
  expect(refused.code).toBe(1);
  expect(refused.stdout).toMatch(/command 'echo' is not on the exec allow-list/);
}, 180_000);

test('playbook lint lists every problem with lines and exits 1', () => {
  const file = join(dir, 'bad.lua');
  writeFileSync(file, 'return {\n  name = "bad",\n  run = function() os.execute("x") io.write("y") end,\n}\n');
  const result = sloth('playbook', 'lint', file, join(root, 'playbooks', 'rotate-log.lua'));
  expect(result.code).toBe(1);
  expect(result.stdout).toContain(`${file}:3: error: 'os' is not available in the playbook sandbox`);
  expect(result.stdout).toContain(`${file}:3: error: 'io' is not available in the playbook sandbox`);
  expect(result.stdout).toContain(`${file}: warning: 'description' is missing`);
  expect(result.stdout).toContain('rotate-log.lua: ok');
  expect(sloth('playbook', 'lint', join(root, 'playbooks', 'rotate-log.lua')).code).toBe(0);
}, 180_000);

test('playbook test shows the matching trigger and runs in dry-run mode', () => {
  const event = join(dir, 'event.json');
  writeFileSync(event, JSON.stringify({ type: 'health_check', timestampMillis: 1, attributes: { check: 'nginx', state: 'unhealthy' } }));
  const result = sloth('playbook', 'test', join(root, 'playbooks', 'restart-unit.lua'), '--event', event, '--param', 'unit=nginx', '--allow-exec', 'systemctl');
  expect(result.stderr).toBe('');
  expect(result.code).toBe(0);
  expect(result.stdout).toMatch(/trigger 1 matches: event \(event health_check with state=unhealthy\)/);
  expect(result.stdout).toMatch(/would exec \{"argv":\["systemctl","restart","nginx"\],"env":\{\},"cwd":"[^"]+"\}/);
  expect(result.stdout).toMatch(/result: ok: restarted nginx/);
}, 180_000);

// `sloth playbook run` starts its worker thread before the CLI loads and keeps WebAssembly on the
// baseline compiler (cli/src/prestart.ts): the sandbox's limits and confinement must hold on that path too.
describe('the one-shot start keeps the sandbox', () => {
  function runBody(name: string, body: string, ...flags: string[]): { code: number | null; stdout: string; stderr: string } {
    const file = join(dir, `${name}.lua`);
    writeFileSync(file, `return { name = "${name}", description = "d", run = function(ctx) ${body} end }`);
    return sloth('playbook', 'run', file, ...flags);
  }

  test.each([
    ['instructions', 'while true do end', ['--max-instructions', '2000000'], /\(limit: instructions\) playbook stopped: it exceeded its instruction budget/],
    ['timeout', 'local x = 0 while true do x = x + 1 end', ['--timeout', '0.5', '--max-instructions', '1000000000000'], /\(limit: timeout\) .*wall-clock timeout \(limit timeout: 500 ms\)/],
    ['memory', 'local s = string.rep("x", 1e9) return true, #s', ['--max-memory-mb', '16'], /\(limit: memory\) .*memory cap/],
    ['c-loop', 'local s = string.rep("a", 40000) return true, tostring(string.find(s, string.rep("a-", 12) .. "b"))', ['--timeout', '0.5'], /\(limit: timeout\) .*worker thread was terminated/],
  ])('a %s runaway is stopped and reported, exit 1', (name, body, flags, message) => {
    const result = runBody(name, body, ...flags);
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(/result: FAILED/);
    expect(result.stdout).toMatch(message);
  }, 180_000);

  test('forbidden globals, exec outside the allow-list, fs outside --allow-fs and the host environment stay out of reach', () => {
    expect(runBody('os', 'os.execute("true")').stdout).toMatch(/'os' is not available in the Sloth playbook sandbox/);
    expect(runBody('exec', 'exec({ "sh", "-c", "true" })', '--allow-exec', 'env').stdout).toMatch(/command 'sh' is not on the exec allow-list/);
    expect(runBody('fs', 'fs.remove("/etc/hostname")', '--allow-fs', dir).stdout).toMatch(/fs\.remove: "\/etc\/hostname" is outside the allowed roots/);
    writeFileSync(join(dir, 'env.lua'), 'return { name = "env", description = "d", run = function() local r = exec({ "env" }) log.info(r.stdout) return true, "env ran" end }');
    const env = spawnSync(process.execPath, [main, 'playbook', 'run', join(dir, 'env.lua'), '--allow-exec', 'env'], {
      cwd: dir,
      encoding: 'utf8',
      timeout: 60_000,
      env: { ...process.env, SLOTH_TEST_SECRET: 'do-not-pass' },
    });
    expect(env.stdout).toMatch(/result: ok: env ran/);
    expect(env.stdout).not.toContain('do-not-pass');
  }, 180_000);
});
