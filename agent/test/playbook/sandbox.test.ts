import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { PlaybookRuntime, loadPlaybook, runPlaybook, type PlaybookHost, type PlaybookLimits, type PlaybookResult } from '../../src/playbook/index.js';
import { host, load, tempDir } from './helpers.js';

const runtime = new PlaybookRuntime({ workers: 2 });
const temp = tempDir('sandbox');
let localHost: PlaybookHost;

beforeAll(async () => {
  await runtime.start();
  localHost = host(temp.dir);
});
afterAll(async () => {
  await runtime.shutdown();
  temp.cleanup();
});

async function run(body: string, limits: Partial<PlaybookLimits> = {}, withHost: PlaybookHost = localHost): Promise<PlaybookResult> {
  const playbook = await load(runtime, body);
  return runPlaybook(playbook, { host: withHost, limits, runtime });
}

/** After every escape attempt the runtime must still run a good playbook. */
async function expectStillWorking(): Promise<void> {
  const result = await run('local t = {} for i = 1, 100 do t[i] = i * i end return true, "fine " .. t[100]');
  expect(result).toMatchObject({ ok: true, message: 'fine 10000' });
}

describe('forbidden capabilities', () => {
  const cases: Array<[string, string, RegExp]> = [
    ['os.execute', 'os.execute("touch /tmp/sloth-pwned")', /'os' is not available in the Sloth playbook sandbox/],
    ['io.open', 'local f = io.open("/etc/passwd") return true, f:read("a")', /'io' is not available/],
    ['require', 'local m = require("os")', /'require' is not available/],
    ['load', 'local f = load("return 1") return true, tostring(f())', /'load' is not available/],
    ['loadfile', 'loadfile("/etc/passwd")', /'loadfile' is not available/],
    ['dofile', 'dofile("/etc/passwd")', /'dofile' is not available/],
    ['string.dump', 'local b = string.dump(function() return 1 end)', /'string.dump' is not available/],
    ['string.dump via method', 'local b = ("x").dump(function() end)', /'string.dump' is not available/],
    ['debug.getinfo', 'local i = debug.getinfo(1)', /'debug' is not available/],
    ['debug.sethook', 'debug.sethook()', /'debug' is not available/],
    ['collectgarbage', 'collectgarbage("stop")', /'collectgarbage' is not available/],
    ['package.loadlib', 'package.loadlib("libc.so.6", "system")', /'package' is not available/],
    ['a __gc finalizer (hooks do not run in finalizers)', 'setmetatable({}, { __gc = function() while true do end end })', /'__gc' metamethods are not available/],
  ];
  test.each(cases)('%s is refused with a clear error naming it', async (_name, body, message) => {
    const result = await run(body);
    expect(result.ok).toBe(false);
    expect(result.error?.code).toBe('SLOTH_ERR_PLAYBOOK_FORBIDDEN');
    expect(result.error?.message).toMatch(message);
    expect(result.error?.message).toMatch(/^t\.lua:\d+:/);
    await expectStillWorking();
  });

  test('a bytecode chunk is refused at load', async () => {
    const bytecode = '\x1bLuaT\x00\x19\x93\r\n\x1a\n\x04\x08\x08xV\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00(w@';
    await expect(loadPlaybook(bytecode, 'evil.luac', runtime)).rejects.toMatchObject({
      code: 'SLOTH_ERR_PLAYBOOK',
      message: expect.stringMatching(/precompiled \(bytecode\) chunks are not allowed/),
    });
    await expectStillWorking();
  });

  test('there is no route to a loader through the remaining libraries', async () => {
    const result = await run(`
      local found = {}
      for _, lib in ipairs({ _G, string, table, math, coroutine, utf8 }) do
        for k, v in pairs(lib) do
          if k == "load" or k == "loadstring" or k == "dump" or k == "loadfile" or k == "dofile" or k == "require" then found[#found + 1] = k end
        end
      end
      return #found == 0, table.concat(found, ",")`);
    expect(result).toMatchObject({ ok: true, message: '' });
  });
});

describe('metatable tricks on _G and _ENV', () => {
  test('replacing the metatable of _G is refused', async () => {
    const result = await run('setmetatable(_G, { __index = function(_, k) return k end })');
    expect(result).toMatchObject({ ok: false, error: { code: 'SLOTH_ERR_PLAYBOOK' } });
    expect(result.error?.message).toMatch(/cannot change a protected metatable/);
    await expectStillWorking();
  });

  test('the string metatable cannot be reached to patch the string library', async () => {
    const result = await run('local mt = getmetatable("") mt.__index = { rep = function() return "pwned" end }');
    expect(result.ok).toBe(false);
    expect(result.error?.message).toMatch(/attempt to index a string value/);
    await expectStillWorking();
  });

  test('a custom _ENV with rawget on _G still finds no os or io', async () => {
    const result = await run(`
      local G = _G
      local _ENV = setmetatable({}, { __index = function(_, k) return rawget(G, k) end })
      os.execute("id")`);
    expect(result.ok).toBe(false);
    expect(result.error?.message).toMatch(/attempt to index a nil value \(global 'os'\)/);
    await expectStillWorking();
  });

  test('a playbook cannot leave anything behind for the next run', async () => {
    const first = await run('string.rep = function() return "patched" end rawset(_G, "leak", 42) return true, "done"');
    expect(first.ok).toBe(true);
    const second = await run('return true, tostring(rawget(_G, "leak")) .. " " .. string.rep("a", 3)');
    expect(second).toMatchObject({ ok: true, message: 'nil aaa' });
  });
});

describe('limits', () => {
  test('an infinite loop is stopped by the instruction budget', async () => {
    const result = await run('while true do end', { maxInstructions: 2_000_000, timeoutMillis: 20_000 });
    expect(result).toMatchObject({ ok: false, error: { code: 'SLOTH_ERR_PLAYBOOK_LIMIT', limit: 'instructions' } });
    expect(result.error?.message).toMatch(/instruction budget/);
    await expectStillWorking();
  });

  test('an infinite loop is stopped by the wall-clock timeout', async () => {
    const result = await run('local x = 0 while true do x = x + 1 end', { maxInstructions: 1e15, timeoutMillis: 300 });
    expect(result).toMatchObject({ ok: false, error: { code: 'SLOTH_ERR_PLAYBOOK_LIMIT', limit: 'timeout' } });
    expect(result.error?.message).toMatch(/wall-clock timeout.*300 ms/);
    await expectStillWorking();
  });

  test('catching the limit error with pcall does not help', async () => {
    const result = await run('while true do pcall(function() while true do end end) end', { maxInstructions: 2_000_000 });
    expect(result).toMatchObject({ ok: false, error: { code: 'SLOTH_ERR_PLAYBOOK_LIMIT', limit: 'instructions' } });
    await expectStillWorking();
  });

  test('a coroutine loop is stopped', async () => {
    const result = await run(
      `local co = coroutine.wrap(function() while true do coroutine.yield() end end)
       while true do co() end`,
      { maxInstructions: 300_000 },
    );
    expect(result).toMatchObject({ ok: false, error: { code: 'SLOTH_ERR_PLAYBOOK_LIMIT', limit: 'instructions' } });
    await expectStillWorking();
  });

  test('a loop inside a coroutine, resumed under pcall, is stopped', async () => {
    const result = await run(
      `local co = coroutine.create(function() while true do end end)
       while true do pcall(coroutine.resume, co) coroutine.resume(co) end`,
      { maxInstructions: 2_000_000 },
    );
    expect(result).toMatchObject({ ok: false, error: { code: 'SLOTH_ERR_PLAYBOOK_LIMIT', limit: 'instructions' } });
    await expectStillWorking();
  });

  test('a string.rep memory bomb is stopped by the memory cap', async () => {
    const result = await run('local s = string.rep("x", 1e9) return true, #s', { maxMemoryBytes: 16 * 1024 * 1024 });
    expect(result).toMatchObject({ ok: false, error: { code: 'SLOTH_ERR_PLAYBOOK_LIMIT', limit: 'memory' } });
    expect(result.error?.message).toMatch(/memory cap/);
    await expectStillWorking();
  });

  test('a doubling string bomb caught by pcall is still stopped', async () => {
    const result = await run('local s = "x" while true do local ok ok, s = pcall(function() return s .. s end) end', { maxMemoryBytes: 16 * 1024 * 1024 });
    expect(result).toMatchObject({ ok: false, error: { code: 'SLOTH_ERR_PLAYBOOK_LIMIT', limit: 'memory' } });
    await expectStillWorking();
  });

  test('a table that grows forever is stopped by the memory cap', async () => {
    const result = await run('local t = {} local i = 0 while true do i = i + 1 t[i] = { i } end', { maxMemoryBytes: 16 * 1024 * 1024, maxInstructions: 1e12 });
    expect(result).toMatchObject({ ok: false, error: { code: 'SLOTH_ERR_PLAYBOOK_LIMIT', limit: 'memory' } });
    await expectStillWorking();
  });

  test('deep recursion is stopped with a clear error', async () => {
    const result = await run('local function f(n) return f(n + 1) + 1 end return true, f(1)');
    expect(result.ok).toBe(false);
    expect(result.error?.message).toMatch(/stack overflow|memory cap/);
    await expectStillWorking();
  });

  test('a C function that never returns is cut off by terminating its worker thread', async () => {
    const result = await run('local s = string.rep("a", 40000) return true, tostring(string.find(s, string.rep("a-", 12) .. "b"))', {
      timeoutMillis: 300,
      hardKillGraceMillis: 300,
    });
    expect(result).toMatchObject({ ok: false, error: { code: 'SLOTH_ERR_PLAYBOOK_LIMIT', limit: 'timeout' } });
    expect(result.error?.message).toMatch(/worker thread was terminated/);
    await expectStillWorking();
  });

  test('a host call that never returns is stopped at the timeout', async () => {
    const stuck: PlaybookHost = { ...localHost, alert: () => new Promise<void>(() => undefined) };
    const result = await run('metrics.alert("x", { level = "warning", message = "m" }) return true, "unreachable"', { timeoutMillis: 300 }, stuck);
    expect(result).toMatchObject({ ok: false, error: { code: 'SLOTH_ERR_PLAYBOOK_LIMIT', limit: 'timeout' } });
    await expectStillWorking();
  });

  test('sleep past the deadline is a timeout', async () => {
    const result = await run('sleep(10000) return true, "woke"', { timeoutMillis: 200 });
    expect(result).toMatchObject({ ok: false, error: { code: 'SLOTH_ERR_PLAYBOOK_LIMIT', limit: 'timeout' } });
    await expectStillWorking();
  });

  test('runs in parallel are isolated: one stopped run does not affect the other', async () => {
    const [bad, good] = await Promise.all([
      run('while true do end', { maxInstructions: 5_000_000 }),
      run('sleep(50) return true, "ok"'),
    ]);
    expect(bad.error?.limit).toBe('instructions');
    expect(good).toMatchObject({ ok: true, message: 'ok' });
  });
});
