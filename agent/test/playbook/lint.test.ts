import { afterAll, beforeAll, expect, test } from 'vitest';
import { PlaybookRuntime, lintPlaybook } from '../../src/playbook/index.js';

const runtime = new PlaybookRuntime({ workers: 1 });
beforeAll(async () => runtime.start());
afterAll(async () => runtime.shutdown());

test('reports every forbidden global with its line, ignoring strings, comments, fields and locals', async () => {
  const source = [
    'return {',
    '  name = "x", description = "d",',
    '  run = function(ctx)',
    '    local f = io.open("/etc/passwd")',
    '    -- os.execute("in a comment") is fine',
    '    local s = "require(\'x\') in a string"',
    '    local t = { os = 1, load = 2 }',
    '    local b = string.dump(ctx.run)',
    '    os.execute("rm -rf /")',
    '    return true, t.os',
    '  end,',
    '}',
  ].join('\n');
  const report = await lintPlaybook(source, 'f.lua', runtime);
  expect(report.ok).toBe(false);
  expect(report.problems.map((p) => [p.line, p.message])).toEqual([
    [4, "'io' is not available in the playbook sandbox"],
    [8, "'string.dump' is forbidden in playbooks (no bytecode)"],
    [9, "'os' is not available in the playbook sandbox"],
  ]);
  expect(report.metadata?.name).toBe('x');
});

test('reports syntax errors with the line', async () => {
  const report = await lintPlaybook('return {\n  name = "x",\n  run = function() if true then end\n}\n', 's.lua', runtime);
  expect(report.ok).toBe(false);
  expect(report.problems).toHaveLength(1);
  expect(report.problems[0]).toMatchObject({ severity: 'error', line: 4 });
  expect(report.problems[0]?.message).toMatch(/syntax error: s\.lua:4: unexpected symbol near '}'/);
});

test('reports all metadata problems at once; a missing description is a warning', async () => {
  const report = await lintPlaybook('return { name = "x", timeout = -1, params = { a = { type = "string", default = 3 } }, run = function() end }', 'm.lua', runtime);
  expect(report.ok).toBe(false);
  expect(report.problems.map((p) => `${p.severity}: ${p.message}`)).toEqual([
    "warning: 'description' is missing",
    "error: 'timeout' must be a number of seconds in (0, 3600]",
    'error: params.a.default must be a string, got number 3',
  ]);
});

test('a top level that loops forever is reported, not hung on', async () => {
  const report = await lintPlaybook('while true do end return {}', 'loop.lua', runtime);
  expect(report.ok).toBe(false);
  expect(report.problems[0]?.message).toMatch(/top level exceeded a limit: .*instruction budget/);
});
