import { existsSync, mkdirSync, realpathSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { FileStateStore, LocalPlaybookHost, PlaybookRuntime, runPlaybook, type PlaybookResult } from '../../src/playbook/index.js';
import { host, load, tempDir } from './helpers.js';

// Regression tests for issue 10 item 3: a playbook's `exec` env and cwd must not turn an allowed command into another program.
const runtime = new PlaybookRuntime({ workers: 2 });
const temp = tempDir('exec-hardening');
const root = join(temp.dir, 'root');
const outside = join(temp.dir, 'outside');

beforeAll(async () => {
  await runtime.start();
  mkdirSync(join(root, 'work'), { recursive: true });
  mkdirSync(outside);
  symlinkSync(outside, join(root, 'escape'));
});
afterAll(async () => {
  await runtime.shutdown();
  temp.cleanup();
});

async function run(body: string, h: LocalPlaybookHost, dryRun = false): Promise<PlaybookResult> {
  return runPlaybook(await load(runtime, body), { host: h, dryRun, runtime });
}

/** The variables `env` printed, as a map. */
function envOf(stdout: string): Record<string, string> {
  return Object.fromEntries(stdout.trim().split('\n').filter(Boolean).map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]));
}

describe('exec env allow-list', () => {
  test.each(['LD_PRELOAD', 'BASH_ENV', 'LD_AUDIT', 'LD_DEBUG_OUTPUT', 'LD_LIBRARY_PATH', 'ENV', 'GCONV_PATH'])('%s is refused with an error naming the key, and nothing runs', async (key) => {
    const marker = join(temp.dir, `ran-${key}`);
    const h = host(temp.dir, { allowExec: ['sh'] });
    const result = await run(`exec({ "sh", "-c", "touch ${marker}" }, { env = { ${key} = "/tmp/evil.so" } })`, h);
    expect(result.ok).toBe(false);
    expect(result.error?.code).toBe('SLOTH_ERR_PLAYBOOK_FORBIDDEN');
    expect(result.error?.message).toMatch(new RegExp(`t\\.lua:\\d+: exec: env\\.${key} is refused for 'sh': it (can make the command load or run other code|is not on the environment allow-list)`));
    expect(existsSync(marker)).toBe(false);
    expect(result.actions).toEqual([]);
  });

  test('a key off the allow-list is refused even when harmless-looking; allowed keys reach the command and the host env does not', async () => {
    const h = host(temp.dir, { allowExec: ['env'] });
    const refused = await run('exec({ "env" }, { env = { USER = "root" } })', h);
    expect(refused.error?.message).toMatch(/env\.USER is refused for 'env': it is not on the environment allow-list \(allowed: COLUMNS, LANG, .*TZ; a host may allow more per command with exec\.allowEnv\)/);
    const ok = await run('local r = exec({ "env" }, { env = { LC_ALL = "C", TZ = "Europe/Paris" } }) return r.code == 0, r.stdout', h);
    expect(ok.ok).toBe(true);
    const seen = envOf(ok.message);
    expect(seen).toMatchObject({ LC_ALL: 'C', TZ: 'Europe/Paris', LANG: 'C.UTF-8' });
    expect(Object.keys(seen).sort()).toEqual(['LANG', 'LC_ALL', 'PATH', 'TZ']);
  });

  test('locale and TZ values cannot name files', async () => {
    const h = host(temp.dir, { allowExec: ['env'] });
    expect((await run('exec({ "env" }, { env = { LANG = "../../tmp/x" } })', h)).error?.message).toMatch(/env\.LANG = "\.\.\/\.\.\/tmp\/x" is not a locale name/);
    expect((await run('exec({ "env" }, { env = { TZ = "/etc/shadow" } })', h)).error?.message).toMatch(/env\.TZ = "\/etc\/shadow" names a file/);
  });

  test('the host extends the allow-list per command; loader keys stay refused even when the host names them', async () => {
    const h = host(temp.dir, { allowExec: ['env', 'sh'], allowExecEnv: { env: ['APP_MODE'] } });
    const ok = await run('local r = exec({ "env" }, { env = { APP_MODE = "fast" } }) return true, r.stdout', h);
    expect(envOf(ok.message).APP_MODE).toBe('fast');
    const otherCommand = await run('exec({ "sh", "-c", "true" }, { env = { APP_MODE = "fast" } })', h);
    expect(otherCommand.error?.message).toMatch(/env\.APP_MODE is refused for 'sh'/);
    expect(() => host(temp.dir, { allowExec: ['ldd'], allowExecEnv: { ldd: ['LD_PRELOAD'] } })).toThrow(/exec\.allowEnv\['ldd'\]: 'LD_PRELOAD' can load or run other code/);
  });
});

describe('exec cwd', () => {
  const fsHost = (): LocalPlaybookHost => host(temp.dir, { allowExec: ['pwd'], allowFsRoots: [root] });

  test('a cwd inside an allowed root is used (as its real path)', async () => {
    const result = await run(`local r = exec({ "pwd" }, { cwd = "${root}/work" }) return r.code == 0, r.stdout`, fsHost());
    expect(result).toMatchObject({ ok: true, message: `${realpathSync(join(root, 'work'))}\n` });
  });

  test.each([
    ['a directory outside the roots', () => outside],
    ['.. out of a root', () => `${root}/work/../../outside`],
    ['a symbolic link inside a root that points outside', () => join(root, 'escape')],
    ['a path through that link', () => `${join(root, 'escape')}/.`],
  ])('%s is refused', async (_what, cwd) => {
    const result = await run(`exec({ "pwd" }, { cwd = "${cwd()}" })`, fsHost());
    expect(result.error?.code).toBe('SLOTH_ERR_PLAYBOOK_FORBIDDEN');
    expect(result.error?.message).toMatch(/exec: cwd ".*" is outside the allowed roots/);
  });

  test('without fs roots any cwd is refused; a relative cwd is refused', async () => {
    const h = host(temp.dir, { allowExec: ['pwd'] });
    expect((await run(`exec({ "pwd" }, { cwd = "${root}" })`, h)).error?.message).toMatch(/outside the allowed roots \(this host allows no fs roots; omit cwd/);
    expect((await run('exec({ "pwd" }, { cwd = "work" })', fsHost())).error?.message).toMatch(/cwd must be an absolute path, got "work"/);
  });

  test('without cwd a command runs in a per-run scratch directory that is removed when the run ends', async () => {
    const result = await run('local a = exec({ "pwd" }) local b = exec({ "pwd" }) return a.stdout == b.stdout, a.stdout', fsHost());
    expect(result.ok).toBe(true);
    const scratch = result.message.trim();
    expect(scratch.startsWith(join(realpathSync(tmpdir()), 'sloth-run-'))).toBe(true);
    expect(existsSync(scratch)).toBe(false);
  });
});

describe('dry-run and the run record', () => {
  test('dry-run runs a read-only command without the playbook env, and still refuses loader keys', async () => {
    const h = host(temp.dir, { allowExec: ['env'], readOnlyExec: ['env'] });
    const result = await run('local r = exec({ "env" }, { env = { LC_ALL = "C" } }) return true, r.stdout', h, true);
    expect(result.ok).toBe(true);
    expect(Object.keys(envOf(result.message)).sort()).toEqual(['LANG', 'PATH']);
    const refused = await run('exec({ "env" }, { env = { LD_PRELOAD = "/tmp/x.so" } })', h, true);
    expect(refused.error?.message).toMatch(/env\.LD_PRELOAD is refused/);
  });

  test('each exec action records argv, env and cwd; secret-looking values are withheld', async () => {
    const h = host(temp.dir, { allowExec: ['pwd', 'true'], allowFsRoots: [root], allowExecEnv: { '*': ['API_TOKEN'] } });
    const result = await run(`exec({ "pwd" }, { cwd = "${root}/work", env = { TZ = "UTC", API_TOKEN = "s3cret" } }) return true, "done"`, h);
    expect(result.ok).toBe(true);
    expect(result.actions).toEqual([{ kind: 'exec', dryRun: false, detail: { argv: ['pwd'], env: { TZ: 'UTC', API_TOKEN: '[redacted]' }, cwd: realpathSync(join(root, 'work')) } }]);
    expect(JSON.stringify(result)).not.toContain('s3cret');
    const dry = await run(`exec({ "true" }, { cwd = "${root}", env = { TZ = "UTC" } }) return true, "done"`, h, true);
    expect(dry.actions).toEqual([{ kind: 'exec', dryRun: true, detail: { argv: ['true'], env: { TZ: 'UTC' }, cwd: realpathSync(root) } }]);
  });
});

describe('state store caps', () => {
  test('a value over the per-key cap is refused with the key and sizes named; nothing is stored', async () => {
    const file = join(temp.dir, 'caps1', 'playbook-state.json');
    const store = new FileStateStore(file, { maxEntryBytes: 100, maxTotalBytes: 1000 });
    await expect(store.set('big', 'x'.repeat(200))).rejects.toMatchObject({ code: 'SLOTH_ERR_PLAYBOOK', message: expect.stringMatching(/state\.set: key 'big' would hold 205 bytes as JSON, over the 100-byte limit per key/) });
    expect(await store.get('big')).toBeUndefined();
    expect(existsSync(file)).toBe(false);
  });

  test('the total cap holds across keys and survives a restart; deleting makes room', async () => {
    const file = join(temp.dir, 'caps2', 'playbook-state.json');
    const store = new FileStateStore(file, { maxEntryBytes: 100, maxTotalBytes: 250 });
    for (const key of ['a', 'b', 'c']) await store.set(key, 'x'.repeat(70));
    await expect(store.set('d', 'x'.repeat(70))).rejects.toThrow(/state\.set: key 'd' would bring the playbook state to 292 bytes, over the 250-byte limit in total; delete keys/);
    const reopened = new FileStateStore(file, { maxEntryBytes: 100, maxTotalBytes: 250 });
    await expect(reopened.cas('d', undefined, 'x'.repeat(70))).rejects.toThrow(/state\.cas: .* over the 250-byte limit in total/);
    await reopened.set('a', undefined);
    await reopened.set('d', 'x'.repeat(70));
    expect(await reopened.get('d')).toBe('x'.repeat(70));
  });

  test('a playbook that exceeds the cap gets a Lua error it can catch', async () => {
    const h = new LocalPlaybookHost({ stateDir: join(temp.dir, 'caps3'), stateLimits: { maxEntryBytes: 64 } });
    const result = await run('local ok, err = pcall(state.set, "k", string.rep("y", 100)) return not ok, tostring(err)', h);
    expect(result.ok).toBe(true);
    expect(result.message).toMatch(/key 'k' would hold 103 bytes as JSON, over the 64-byte limit per key/);
  });
});
