import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadPlaybookDirectory } from '../../src/jobs/index.js';

const playbook = (name: string, trigger: string, extra = ''): string => `
return {
  name = "${name}",
  version = "3",
  description = "test",
  ${extra}
  triggers = { ${trigger} },
  run = function(ctx) return true, "ok" end,
}`;

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'sloth-pbdir-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('loadPlaybookDirectory', () => {
  it('refuses a directory or a playbook that every user may write to: what they hold runs on the agents', async () => {
    writeFileSync(join(dir, 'a.lua'), playbook('cpu', '{ alert = { name = "X" } }'), { mode: 0o644 });
    expect((await loadPlaybookDirectory(dir)).map((p) => p.name)).toEqual(['cpu']);
    chmodSync(join(dir, 'a.lua'), 0o666);
    await expect(loadPlaybookDirectory(dir)).rejects.toThrow(`playbook ${join(dir, 'a.lua')} is writable by every user (mode 0666), and what it holds runs on the agents: run chmod o-w ${join(dir, 'a.lua')}`);
    chmodSync(join(dir, 'a.lua'), 0o644);
    chmodSync(dir, 0o777);
    await expect(loadPlaybookDirectory(dir)).rejects.toThrow(/playbook directory .* is writable by every user \(mode 0777\)/);
    // A group that may write (a team's shared directory) is the operator's choice.
    chmodSync(dir, 0o775);
    expect((await loadPlaybookDirectory(dir)).map((p) => p.name)).toEqual(['cpu']);
  });

  it('checks a task\'s run parameters as the agent will: required, declared, of the declared type', async () => {
    writeFileSync(
      join(dir, 'unit.lua'),
      playbook('restart', '{ event = { type = "health_check" } }', 'params = { unit = { type = "string", required = true }, min_interval = { type = "integer", default = 300 } },'),
    );
    const [restart] = await loadPlaybookDirectory(dir);
    expect(restart!.checkParams({ unit: 'nginx' })).toEqual([]);
    expect(restart!.checkParams({ unit: 'nginx', min_interval: '60' })).toEqual([]);
    expect(restart!.checkParams({})).toEqual(["param 'unit' is required (string)"]);
    const problems = restart!.checkParams({ unit: 'nginx', min_interval: 'abc', foo: 'bar' });
    expect(problems).toHaveLength(2);
    expect(problems[0]).toMatch(/^param 'min_interval' /);
    expect(problems[1]).toBe("param 'foo' is not declared by playbook 'restart' (declared: min_interval, unit)");
  });

  it('loads every .lua file with metadata and trigger matching for the scheduler', async () => {
    writeFileSync(join(dir, 'b.lua'), playbook('disk', '{ alert = { name = "DiskWillFill" } }', 'requires_approval = true,'));
    writeFileSync(join(dir, 'a.lua'), playbook('cpu', '{ anomaly = { metric = "system.cpu.utilization", min_score = 0.9 } }'));
    writeFileSync(join(dir, 'notes.txt'), 'not a playbook');
    const loaded = await loadPlaybookDirectory(dir);
    expect(loaded.map((p) => [p.name, p.version, p.fileName, p.requiresApproval])).toEqual([
      ['cpu', '3', 'a.lua', false],
      ['disk', '3', 'b.lua', true],
    ]);
    const cpu = loaded[0]!;
    const anomaly = { seriesId: 's', agentId: 'web-1', metric: 'system.cpu.utilization', timestampMillis: 1, value: 99, score: 0.95, expectedLow: 0, expectedHigh: 1, modelVersion: 'm' };
    expect(cpu.matches({ kind: 'anomaly', anomaly })).toBe(true);
    expect(cpu.matches({ kind: 'anomaly', anomaly: { ...anomaly, score: 0.5 } })).toBe(false);
    const disk = loaded[1]!;
    expect(disk.matches({ kind: 'event', event: { type: 'alert', agentId: 'db', timestampMillis: 1, attributes: { name: 'DiskWillFill' } } })).toBe(true);
    expect(disk.matches({ kind: 'event', event: { type: 'alert', agentId: 'db', timestampMillis: 1, attributes: { name: 'Other' } } })).toBe(false);
    expect(cpu.source).toContain('system.cpu.utilization');
  });

  it('names the file of a playbook that does not load, and refuses duplicate names', async () => {
    writeFileSync(join(dir, 'bad.lua'), 'return { name = "bad", run = 42 }');
    await expect(loadPlaybookDirectory(dir)).rejects.toThrow(/bad\.lua/);
    rmSync(join(dir, 'bad.lua'));
    writeFileSync(join(dir, 'one.lua'), playbook('same', '{ alert = { name = "X" } }'));
    writeFileSync(join(dir, 'two.lua'), playbook('same', '{ alert = { name = "Y" } }'));
    await expect(loadPlaybookDirectory(dir)).rejects.toThrow(/'same' is already used by .*one\.lua/);
  });

  it('a missing directory is a configuration error naming it', async () => {
    await expect(loadPlaybookDirectory(join(dir, 'nope'))).rejects.toMatchObject({ code: 'SLOTH_ERR_CONFIG', message: expect.stringContaining(join(dir, 'nope')) });
  });
});
