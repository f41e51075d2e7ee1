import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { PlaybookRuntime, runPlaybook, type PlaybookLimits, type PlaybookResult } from '../../src/playbook/index.js';
import { host, load, tempDir } from './helpers.js';

const runtime = new PlaybookRuntime({ workers: 2 });
const temp = tempDir('record-limits');
/** Lines the host's log sink printed. */
const printed: string[] = [];

beforeAll(async () => {
  await runtime.start();
});
afterAll(async () => {
  await runtime.shutdown();
  temp.cleanup();
});

async function run(body: string, options: { dryRun?: boolean; limits?: Partial<PlaybookLimits>; on?: PlaybookRuntime } = {}): Promise<PlaybookResult> {
  const on = options.on ?? runtime;
  const playbook = await load(on, body);
  return runPlaybook(playbook, { host: host(temp.dir, { print: (line) => printed.push(line) }), dryRun: options.dryRun, limits: options.limits, runtime: on });
}

function utf8Bytes(text: string): number {
  return Buffer.byteLength(text, 'utf8');
}

describe('log and action records are bounded', () => {
  test('a log record keeps at most 32 attributes, 256-byte keys and 4 KiB strings cut at a character boundary', async () => {
    const result = await run(`
      local attrs = {}
      for i = 1, 40 do attrs["k" .. i] = i end
      attrs[string.rep("K", 300)] = "long key"
      local deep = { x = { y = { z = { w = { v = "too deep" } } } } }
      log.info("wide", attrs)
      log.info("values", { ascii = string.rep("A", 10000), accents = string.rep("é", 5000), deep = deep })
      return true, "done"`);
    expect(result).toMatchObject({ ok: true, message: 'done' });
    const [wide, values] = result.logs;
    expect(Object.keys(wide?.attrs ?? {})).toHaveLength(32);
    for (const key of Object.keys(wide?.attrs ?? {})) expect(utf8Bytes(key)).toBeLessThanOrEqual(256);
    const ascii = values?.attrs.ascii as string;
    const accents = values?.attrs.accents as string;
    expect(utf8Bytes(ascii)).toBeLessThanOrEqual(4096);
    expect(ascii).toMatch(/^A{4000,}…$/);
    expect(utf8Bytes(accents)).toBeLessThanOrEqual(4096);
    // Cut between characters: no replacement character from a split é.
    expect(accents).toMatch(/^é{2000,}…$/);
    expect(JSON.stringify(values?.attrs.deep)).toContain('nested too deep');
    expect(JSON.stringify(values?.attrs.deep)).not.toContain('too deep"}');
    // What reached the host's log sink is the same bounded record.
    expect(printed.find((line) => line.startsWith('[info] values '))).toContain(`"ascii":"${ascii}"`);
  });

  test('1,000 records of a big attribute keep the run under 1 MiB of records, with one warning', async () => {
    const result = await run(`
      local big = string.rep("A", 1024 * 1024)
      for i = 1, 1000 do log.info("x", { a = big, b = big, c = big, d = big }) end
      return true, "done"`);
    expect(result).toMatchObject({ ok: true, message: 'done' });
    expect(utf8Bytes(JSON.stringify(result.logs))).toBeLessThan(1.1 * 1024 * 1024);
    const warning = result.logs.at(-1);
    expect(warning).toMatchObject({ level: 'warn', attrs: { dropped_actions: 0 } });
    expect(warning?.message).toMatch(/^\d+ log record\(s\) and 0 action record\(s\) dropped: a run keeps at most 1048576 bytes of log and action records/);
    expect((warning?.attrs.dropped_logs as number) + result.logs.length - 1).toBe(1000);
  });

  test('a run keeps at most 1,000 action records and says how many it dropped', async () => {
    const result = await run('for i = 1, 1500 do state.set("k" .. i, i) end return true, "done"', { dryRun: true });
    expect(result).toMatchObject({ ok: true, message: 'done' });
    expect(result.actions).toHaveLength(1000);
    expect(result.logs.at(-1)).toMatchObject({ level: 'warn', attrs: { dropped_logs: 0, dropped_actions: 500 } });
    expect(result.logs.at(-1)?.message).toMatch(/0 log record\(s\) and 500 action record\(s\) dropped/);
  });

  test('an action record keeps bounded details', async () => {
    const result = await run('metrics.gauge("m", 1, { k = string.rep("x", 10000) }) return true, "done"', { dryRun: true });
    expect(result.ok).toBe(true);
    const attrs = (result.actions[0]?.detail.attrs ?? {}) as Record<string, string>;
    expect(utf8Bytes(attrs.k ?? '')).toBeLessThanOrEqual(4096);
  });
});

describe('values passed to the host', () => {
  test('json.encode of a table with a toJSON function ends promptly with a clear error', async () => {
    const result = await run('return true, json.encode({ a = { toJSON = function() while true do end end } })', { limits: { timeoutMillis: 5_000, hardKillGraceMillis: 500 } });
    expect(result).toMatchObject({ ok: false, error: { code: 'SLOTH_ERR_PLAYBOOK' } });
    expect(result.error?.message).toMatch(/t\.lua:\d+: functions cannot be passed to the host \(argument 1\.a\.toJSON\)/);
  });

  test('the error can be caught, and plain tables still encode with sorted keys', async () => {
    const result = await run(`
      local ok, err = pcall(json.encode, { f = print })
      local t = {} t.self = t
      local ok2, err2 = pcall(json.encode, t)
      return true, tostring(ok) .. " " .. err .. " | " .. tostring(ok2) .. " " .. err2 .. " | " .. json.encode({ b = 1, a = { 1, 2, "x" } })`);
    expect(result.ok).toBe(true);
    expect(result.message).toMatch(/^false .*functions cannot be passed to the host \(argument 1\.f\) \| false .*no cycles.* \| \{"a":\[1,2,"x"\],"b":1\}$/);
  });

  test('a runaway allocation on the JS side of a worker ends that worker, not the host, with a memory limit', async () => {
    const small = new PlaybookRuntime({ workers: 1, workerHeapMb: 64 });
    try {
      await small.start();
      // Lua holds one 8 MiB string; converted to JS it is one copy per reference (40 × 8 MiB).
      const result = await run('local big = string.rep("A", 8 * 1024 * 1024) local t = {} for i = 1, 40 do t[i] = big end return true, json.encode(t)', { on: small });
      expect(result).toMatchObject({ ok: false, error: { code: 'SLOTH_ERR_PLAYBOOK_LIMIT', limit: 'memory' } });
      expect(result.error?.message).toMatch(/worker thread ran out of JS heap \(limit 64 MB/);
      // A fresh worker took its place.
      expect(await run('return true, "fine"', { on: small })).toMatchObject({ ok: true, message: 'fine' });
    } finally {
      await small.shutdown();
    }
  });
});

describe('metrics: per-run budget', () => {
  test('a run may write at most 100 distinct metric names and 500 series (100 + 400 here); what it already wrote keeps working', async () => {
    const result = await run(`
      for i = 1, 100 do metrics.gauge("run.m" .. i, i) end
      local ok, err = pcall(metrics.gauge, "run.m101", 1)
      metrics.gauge("run.m1", 7)
      for i = 1, 400 do metrics.counter("run.m2", 1, { k = "v" .. (i % 5), j = math.floor(i / 5) }) end
      local ok2, err2 = pcall(metrics.counter, "run.m3", 1, { k = "new" })
      return true, tostring(ok) .. " " .. err .. " | " .. tostring(ok2) .. " " .. err2`);
    expect(result.ok).toBe(true);
    expect(result.message).toMatch(/^false .*metrics\.gauge\('run\.m101'\): a run may write at most 100 distinct metric names \| false .*metrics\.counter\('run\.m3'\): a run may write at most 500 distinct series/);
  });
});
