/**
 * Issue 10 item 3 through the built CLI (`sloth playbook run`): an allow-listed
 * command cannot be turned into another program through `env` or `cwd`.
 * (agent/test/playbook/exec-hardening.test.ts covers the rules one by one in-process.)
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cliPath } from './helpers/agent-processes.js';

describe('sloth playbook run: exec env and cwd (built CLI)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sloth-playbook-security-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const run = (name: string, body: string, ...flags: string[]): { code: number | null; stdout: string } => {
    const file = join(dir, `${name}.lua`);
    writeFileSync(file, `return { name = "${name}", description = "d", run = function() ${body} end }`);
    const result = spawnSync(process.execPath, [cliPath, 'playbook', 'run', file, '--data-dir', join(dir, 'data'), ...flags], { cwd: dir, encoding: 'utf8', timeout: 60_000 });
    // A run that did not exit by itself says how it ended (CI once saw a null exit code here, cause unknown).
    const ending = result.status === null ? `\n[ended by ${result.signal ?? 'no signal'}${result.error === undefined ? '' : `, spawn error ${result.error.message}`}]` : '';
    return { code: result.status, stdout: `${result.stdout ?? ''}${result.stderr ?? ''}${ending}` };
  };

  // One retry: a clean-clone CI run of 6008344 (2026-12-07) saw `sloth playbook run` end with a null exit code (killed
  // by a signal or not spawned) in one of these cases, cause not found; the run helper now prints how it ended.
  it.each(['LD_PRELOAD', 'LD_AUDIT', 'LD_DEBUG_OUTPUT', 'BASH_ENV'])('refuses env.%s for an allowed command and runs nothing', { retry: 1, timeout: 120_000 }, (key) => {
    const marker = join(dir, `ran-${key}`);
    const result = run(`env-${key.toLowerCase()}`, `exec({ "sh", "-c", "touch ${marker}" }, { env = { ${key} = "${join(dir, 'evil.so')}" } }) return true, "ran"`, '--allow-exec', 'sh');
    expect(result.code, result.stdout).toBe(1);
    expect(result.stdout).toMatch(/result: FAILED/);
    expect(result.stdout).toContain(`env.${key} is refused for 'sh'`);
    expect(existsSync(marker)).toBe(false);
  });

  it('keeps cwd inside --allow-fs and runs in a scratch directory otherwise', () => {
    const root = join(dir, 'root');
    mkdirSync(root, { recursive: true });
    const outside = run('cwd-outside', 'exec({ "pwd" }, { cwd = "/etc" }) return true, "ran"', '--allow-exec', 'pwd', '--allow-fs', root);
    expect(outside.code).toBe(1);
    expect(outside.stdout).toMatch(/exec: cwd "\/etc" is outside the allowed roots/);
    const inside = run('cwd-inside', `local r = exec({ "pwd" }, { cwd = "${root}" }) return true, "in " .. r.stdout`, '--allow-exec', 'pwd', '--allow-fs', root);
    expect(inside.stdout).toContain(`result: ok: in ${root}`);
    const scratch = run('cwd-scratch', 'local r = exec({ "pwd" }) return true, "in " .. r.stdout', '--allow-exec', 'pwd');
    expect(scratch.stdout).toMatch(/result: ok: in \//);
    expect(scratch.stdout).not.toContain(`result: ok: in ${dir}\n`);
  }, 120_000);

  it('refuses an --allow-fs root every user may write to (as an agent does at start) and runs nothing', () => {
    const open = join(dir, 'open');
    mkdirSync(open, { recursive: true });
    chmodSync(open, 0o777);
    const marker = join(dir, 'ran-open');
    const result = run('fs-open', `exec({ "sh", "-c", "touch ${marker}" }) return true, "ran"`, '--allow-exec', 'sh', '--allow-fs', open);
    expect(result.code).not.toBe(0);
    expect(result.stdout).toContain(`"${open}": is writable by every user (mode 777)`);
    expect(existsSync(marker)).toBe(false);
  }, 120_000);
});
