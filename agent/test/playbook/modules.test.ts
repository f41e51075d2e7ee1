import { existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { PlaybookRuntime, loadPlaybook, runPlaybook, type LocalPlaybookHost, type PlaybookResult } from '../../src/playbook/index.js';
import { host, load, tempDir } from './helpers.js';

const runtime = new PlaybookRuntime({ workers: 2 });
const temp = tempDir('modules');
let server: Server;
let port = 0;
const received: Array<{ method: string; url: string; body: string; headers: IncomingMessage['headers'] }> = [];

beforeAll(async () => {
  await runtime.start();
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString()));
    req.on('end', () => {
      received.push({ method: req.method ?? '', url: req.url ?? '', body, headers: req.headers });
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ hello: 'world', path: req.url }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as { port: number }).port;
});
afterAll(async () => {
  await runtime.shutdown();
  await new Promise((resolve) => server.close(resolve));
  temp.cleanup();
});

async function run(body: string, options: { host?: LocalPlaybookHost; params?: Record<string, unknown>; dryRun?: boolean; event?: unknown; extra?: string } = {}): Promise<PlaybookResult> {
  const playbook = await load(runtime, body, options.extra);
  return runPlaybook(playbook, { host: options.host ?? host(temp.dir), params: options.params, dryRun: options.dryRun, event: options.event, runtime });
}

describe('loading and metadata', () => {
  test('loadPlaybook returns the validated metadata', async () => {
    const playbook = await loadPlaybook(
      `return {
        name = "restart", description = "d", version = 3, requires_approval = true, timeout = 12,
        triggers = { { anomaly = { metric = "system.cpu.utilization", min_score = 0.9 } }, { alert = { name = "DiskWillFill" } } },
        params = { unit = { type = "string", required = true, description = "unit" }, retries = { type = "integer", default = 2 } },
        run = function(ctx) return true end,
      }`,
      'restart.lua',
      runtime,
    );
    expect(playbook.metadata).toEqual({
      name: 'restart',
      description: 'd',
      version: '3',
      requiresApproval: true,
      timeoutMillis: 12_000,
      triggers: [{ anomaly: { metric: 'system.cpu.utilization', min_score: 0.9 } }, { alert: { name: 'DiskWillFill' } }],
      params: { unit: { type: 'string', required: true, description: 'unit' }, retries: { type: 'integer', required: false, default: 2 } },
    });
  });

  test('every metadata problem is named at once', async () => {
    const error = await loadPlaybook('return { name = "bad name!", requires_aproval = true, params = { n = { type = "float" } }, triggers = { { cron = "x" } } }', 'bad.lua', runtime).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'SLOTH_ERR_PLAYBOOK' });
    const message = (error as Error).message;
    expect(message).toMatch(/unknown metadata key 'requires_aproval'/);
    expect(message).toMatch(/'name' must be a string/);
    expect(message).toMatch(/params\.n\.type must be one of string, number, integer, boolean, table/);
    expect(message).toMatch(/triggers\[1\] must have exactly one of the keys anomaly, event, alert/);
    expect(message).toMatch(/'run' must be a function/);
  });

  test('a file that does not return a table, or does not parse, is refused with the line', async () => {
    await expect(loadPlaybook('return 42', 'n.lua', runtime)).rejects.toThrow(/must return a table \(got number\)/);
    await expect(loadPlaybook('return {\n name = "x",\n run = function() end end }', 's.lua', runtime)).rejects.toThrow(/s\.lua:3:/);
  });
});

describe('params', () => {
  const extra = 'params = { unit = { type = "string", required = true }, limit = { type = "integer", default = 5 }, force = { type = "boolean", default = false } },';
  test('defaults apply and strings are coerced to the declared types', async () => {
    const result = await run('return true, ctx.params.unit .. " " .. math.type(ctx.params.limit) .. " " .. ctx.params.limit .. " " .. tostring(ctx.params.force)', {
      extra,
      params: { unit: 'nginx', force: 'true' },
    });
    expect(result).toMatchObject({ ok: true, message: 'nginx integer 5 true' });
  });

  test('bad params give an error naming each param, without running', async () => {
    const result = await run('return true, "ran"', { extra, params: { limit: 'many', colour: 'red' } });
    expect(result.ok).toBe(false);
    expect(result.error?.code).toBe('SLOTH_ERR_INPUT');
    expect(result.message).toMatch(/param 'unit' is required/);
    expect(result.message).toMatch(/param 'limit' must be an integer, got string "many"/);
    expect(result.message).toMatch(/param 'colour' is not declared/);
  });
});

describe('modules', () => {
  test('log, print and json', async () => {
    const result = await run(`
      log.info("hello", { n = 1 })
      log.warn("careful")
      print("a", 1, true)
      warn("@on")
      warn("to ", "the log")
      local t = json.decode('{"a":[1,2,3],"b":{"c":"d"},"n":null}')
      log.error(json.encode({ sum = t.a[1] + t.a[2] + t.a[3], c = t.b.c }))
      return true, tostring(t.n)`);
    expect(result).toMatchObject({ ok: true, message: 'nil' });
    expect(result.logs.map((l) => [l.level, l.message, l.attrs])).toEqual([
      ['info', 'hello', { n: 1 }],
      ['warn', 'careful', {}],
      ['info', 'a\t1\ttrue', {}],
      ['warn', 'to the log', {}],
      ['error', '{"c":"d","sum":6}', {}],
    ]);
  });

  test('a log loop is capped at 1000 records per run, and the drop is reported', async () => {
    const result = await run('for i = 1, 5000 do log.info("line " .. i) end return true, "done"');
    expect(result).toMatchObject({ ok: true, message: 'done' });
    expect(result.logs).toHaveLength(1001);
    expect(result.logs.at(-2)?.message).toBe('line 1000');
    expect(result.logs.at(-1)).toMatchObject({ level: 'warn', message: '4000 log record(s) dropped: a run keeps at most 1000' });
  });

  test('ctx carries the event, dry-run flag and run id', async () => {
    const event = { seriesId: 'system.cpu.utilization', agentId: 'web-1', metric: 'system.cpu.utilization', timestampMillis: 1, value: 0.97, score: 0.95, expectedLow: 0, expectedHigh: 0.6, modelVersion: 'v1' };
    const result = await run('return true, ctx.event.kind .. " " .. ctx.event.agentId .. " " .. ctx.event.score .. " " .. tostring(ctx.dry_run) .. " " .. #ctx.run_id', { event });
    expect(result).toMatchObject({ ok: true, message: 'anomaly web-1 0.95 false 36' });
  });

  test('metrics are recorded and read back; the latest value is visible to metrics.get', async () => {
    const h = host(temp.dir);
    const result = await run(
      `metrics.gauge("queue_depth", 7, { queue = "a" })
       metrics.counter("restarts_total", 1)
       metrics.counter("restarts_total", 2)
       metrics.histogram("latency_ms", 12.5)
       return true, metrics.get("queue_depth", { queue = "a" }) .. " " .. metrics.get("restarts_total") .. " " .. tostring(metrics.get("missing"))`,
      { host: h },
    );
    expect(result).toMatchObject({ ok: true, message: '7 3 nil' });
    expect(h.metrics.get('latency_ms')).toEqual({ kind: 'histogram', value: 12.5 });
  });

  test('a host error is raised at the calling line and can be caught by pcall', async () => {
    const result = await run('local ok, err = pcall(metrics.gauge, "", 1)\nlocal ok2, err2 = pcall(function() metrics.gauge("x", "NaN") end)\nreturn true, err .. " | " .. err2');
    expect(result.ok).toBe(true);
    expect(result.message).toMatch(/metrics\.gauge: name must not be empty/);
    expect(result.message).toMatch(/t\.lua:7: metrics\.gauge\('x'\): value must be a finite number/);
  });

  test('state persists across runs in the state directory; incr and cas', async () => {
    const { dir, cleanup } = tempDir('state');
    try {
      const first = await run('state.set("last", { unit = "nginx", n = 1 }) return true, tostring(state.incr("count")) .. tostring(state.incr("count", 5))', { host: host(dir) });
      expect(first).toMatchObject({ ok: true, message: '16' });
      const second = await run(
        'local v = state.get("last") local a = state.cas("count", 6, 100) local b = state.cas("count", 6, 200) return true, v.unit .. " " .. tostring(a) .. " " .. tostring(b) .. " " .. state.get("count")',
        { host: host(dir) },
      );
      expect(second).toMatchObject({ ok: true, message: 'nginx true false 100' });
      expect(JSON.parse(readFileSync(join(dir, 'state', 'playbook-state.json'), 'utf8'))).toEqual({ last: { unit: 'nginx', n: 1 }, count: 100 });
    } finally {
      cleanup();
    }
  });
});

describe('exec', () => {
  test('runs an allowed command without a shell and returns code, stdout, stderr', async () => {
    const h = host(temp.dir, { allowExec: ['echo', 'sh'] });
    const result = await run('local r = exec({ "echo", "$(id)", "; rm -rf /" }) return r.code == 0, r.stdout', { host: h });
    expect(result).toMatchObject({ ok: true, message: '$(id) ; rm -rf /\n' });
    expect(result.actions).toEqual([{ kind: 'exec', dryRun: false, detail: { argv: ['echo', '$(id)', '; rm -rf /'], env: {}, cwd: expect.stringContaining('sloth-run-') } }]);
    const failing = await run('local r = exec({ "sh", "-c", "echo oops >&2; exit 3" }) return true, r.code .. " " .. r.stderr', { host: h });
    expect(failing).toMatchObject({ ok: true, message: '3 oops\n' });
  });

  test('a command off the allow-list is refused, naming it', async () => {
    const result = await run('exec({ "rm", "-rf", "/tmp/x" })', { host: host(temp.dir, { allowExec: ['echo'] }) });
    expect(result.ok).toBe(false);
    expect(result.error?.code).toBe('SLOTH_ERR_PLAYBOOK_FORBIDDEN');
    expect(result.error?.message).toMatch(/t\.lua:\d+: exec: command 'rm' is not on the exec allow-list \(allowed: echo\)/);
  });

  test('the playbook cannot redirect the command through PATH or a relative path', async () => {
    const h = host(temp.dir, { allowExec: ['echo'] });
    const viaPath = await run('exec({ "echo", "x" }, { env = { PATH = "/tmp" } })', { host: h });
    expect(viaPath.error?.message).toMatch(/env\.PATH cannot be set/);
    const relative = await run('exec({ "./echo", "x" })', { host: h });
    expect(relative.error?.message).toMatch(/not on the exec allow-list/);
  });

  test('a command is stopped (SIGTERM to its process group) at its timeout', async () => {
    const result = await run('local r = exec({ "sleep", "30" }, { timeout = 0.2 }) return true, tostring(r.timed_out) .. " " .. r.signal', { host: host(temp.dir, { allowExec: ['sleep'] }) });
    expect(result).toMatchObject({ ok: true, message: 'true SIGTERM' });
  });

  test('dry-run records side effects instead of doing them; read-only commands still run', async () => {
    const { dir, cleanup } = tempDir('dry');
    try {
      const target = join(dir, 'created');
      const h = host(dir, { allowExec: ['touch', 'echo'], readOnlyExec: ['echo'] });
      const result = await run(
        `local r = exec({ "touch", "${target}" })
         local e = exec({ "echo", "read" })
         state.set("k", 1)
         local n = state.incr("n", 2)
         metrics.alert("a", { message = "m" })
         return true, tostring(r.dry_run) .. " " .. e.stdout .. tostring(state.get("k")) .. " " .. n .. " " .. tostring(ctx.dry_run)`,
        { host: h, dryRun: true },
      );
      expect(result).toMatchObject({ ok: true, message: 'true read\nnil 2 true' });
      expect(existsSync(target)).toBe(false);
      expect(h.alerts).toEqual([]);
      expect(result.actions.map((a) => [a.kind, a.dryRun])).toEqual([
        ['exec', true],
        ['state.set', true],
        ['state.incr', true],
        ['alert', true],
      ]);
    } finally {
      cleanup();
    }
  });
});

describe('fs', () => {
  test('a symbolic link inside a root is never followed out of it', async () => {
    const { dir, cleanup } = tempDir('fs');
    try {
      const root = join(dir, 'root');
      const outside = join(dir, 'outside');
      mkdirSync(root);
      mkdirSync(outside);
      writeFileSync(join(outside, 'secret.txt'), 'secret');
      symlinkSync(outside, join(root, 'link'));
      const h = host(dir, { allowFsRoots: [root] });
      const list = await run(`fs.list("${join(root, 'link')}")`, { host: h });
      expect(list.error?.message).toMatch(/is a link, not a directory/);
      const through = await run(`fs.remove("${join(root, 'link', 'secret.txt')}")`, { host: h });
      expect(through.error).toMatchObject({ code: 'SLOTH_ERR_PLAYBOOK_FORBIDDEN', message: expect.stringMatching(/outside the allowed roots/) });
      const removed = await run(`local e = fs.stat("${join(root, 'link')}") fs.remove("${join(root, 'link')}") return true, e.type`, { host: h });
      expect(removed).toMatchObject({ ok: true, message: 'link' });
      expect(readFileSync(join(outside, 'secret.txt'), 'utf8')).toBe('secret');
      expect(existsSync(join(root, 'link'))).toBe(false);
    } finally {
      cleanup();
    }
  });
});

describe('http', () => {
  test('get and post to an allowed host', async () => {
    const h = host(temp.dir, { allowHttp: [`127.0.0.1:${port}`] });
    const result = await run(
      `local g = http.get("http://127.0.0.1:${port}/status")
       local p = http.post("http://127.0.0.1:${port}/hook", { body = { text = "hi" }, headers = { ["x-k"] = "v" } })
       return g.status == 200 and p.status == 200, json.decode(g.body).path`,
      { host: h },
    );
    expect(result).toMatchObject({ ok: true, message: '/status' });
    const post = received.find((r) => r.url === '/hook');
    expect(post).toMatchObject({ method: 'POST', body: '{"text":"hi"}' });
    expect(post?.headers['x-k']).toBe('v');
    expect(post?.headers['content-type']).toBe('application/json');
  });

  test('a host off the allow-list is refused without echoing the URL path', async () => {
    const result = await run('http.post("http://127.0.0.1:9/secret-token-123")', { host: host(temp.dir, { allowHttp: ['example.org'] }) });
    expect(result.ok).toBe(false);
    expect(result.error?.code).toBe('SLOTH_ERR_PLAYBOOK_FORBIDDEN');
    expect(result.error?.message).toMatch(/http\.post: host '127\.0\.0\.1:9' is not on the http allow-list/);
    expect(JSON.stringify(result)).not.toContain('secret-token-123');
  });
});
