import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectClearError, root, sloth, type Run } from './helpers/sloth-process.js';

/**
 * Session F's sweep of the built CLI (test/session-e-rules.md, F1-F5): a horizon nobody can write,
 * an output directory the kernel refuses, bad flags hidden behind an unreachable Redis, and secrets
 * in service URLs. Each ends quickly with a non-zero exit and an error naming the value, never a
 * hang, a stack trace, an exit 0 or the secret. Runs `cli/dist` (`npx tsc -b` first).
 */

const dir = mkdtempSync(join(tmpdir(), 'sloth-bad-input-sweep-'));
const trace = join(dir, 'trace.csv');
const fifo = join(dir, 'fifo');
const privateFifo = join(dir, 'private-fifo');
const badAlerts = join(dir, 'bad-alerts.yaml');
/** Nobody listens there: refused at once. */
const deadRedis = 'redis://127.0.0.1:9';
const deadHttp = 'http://127.0.0.1:9';
const secret = 's3cretTOKENxyz123';

beforeAll(() => {
  writeFileSync(trace, ['timestamp,value', ...Array.from({ length: 50 }, (_, i) => `${1_700_000_000 + i * 60},${10 + (i % 7)}`)].join('\n'));
  for (const [path, mode] of [[fifo, '644'], [privateFifo, '600']] as const) {
    const made = spawnSync('mkfifo', ['-m', mode, path]);
    if (made.status !== 0) throw new Error(`mkfifo failed: ${made.stderr.toString()}`);
  }
  writeFileSync(badAlerts, 'rules: [ {name: x\n');
  writeFileSync(join(dir, 'alerts-in-config.yaml'), `alerts:\n  rules: ${badAlerts}\n`);
  writeFileSync(join(dir, 'empty-alerts.yaml'), '{}\n');
  mkdirSync(join(dir, 'no-series'));
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

// 20 s: the slowest of these (up loads every service to validate) ends in a few seconds; a hang is killed.
const run = async (args: readonly string[]): Promise<Run> => await sloth(args, { cwd: dir, killAfterMillis: 20_000 });

describe('limits and outputs', () => {
  it('forecast -n 99999999 is refused at once, naming the value and the limit (it did not end within 20 s before)', async () => {
    expectClearError(await run(['forecast', '-i', trace, '--train-until', '1700002940', '-n', '99999999', '-o', join(dir, 'f.csv'), '--no-mlp']), '--horizon 99999999', /at most 4,129,776/);
    expect(existsSync(join(dir, 'f.csv'))).toBe(false);
  });

  it('forecast past the last date a timestamp can hold is refused (it wrote "NaN-NaN-NaN" rows and exited 0)', async () => {
    // One row a century, years 1000 to 9900: about 2,650 steps reach year 275760.
    const centuries = join(dir, 'centuries.csv');
    writeFileSync(centuries, ['timestamp,value', ...Array.from({ length: 90 }, (_, i) => `${1000 + i * 100}-01-01 00:00:00,${10 + (i % 7)}`)].join('\n'));
    const out = join(dir, 'centuries-forecast.csv');
    expectClearError(await run(['forecast', '-i', centuries, '--train-until', '9900-01-01 00:00:00', '-n', '3000', '-o', out, '--no-mlp']), '--horizon 3000', /year 275760/, /at most \d+ steps/);
    expect(existsSync(out)).toBe(false);
  });

  it('forecast at a sane horizon still writes its rows', async () => {
    const out = join(dir, 'ok.csv');
    const ok = await run(['forecast', '-i', trace, '--train-until', '1700002940', '-n', '5', '-o', out, '--no-mlp']);
    expect(ok.code, ok.stderr).toBe(0);
    expect(existsSync(out)).toBe(true);
  });

  it('dashboards build --out /proc/nope fails fast naming the directory (recursive mkdir looped for ever)', async () => {
    expectClearError(await run(['dashboards', 'build', '--out', '/proc/nope', '--docs', join(dir, 'none.md')]), 'cannot write dashboards to /proc/nope');
    expectClearError(await run(['dashboards', 'build', '--out', '/proc/nope/deeper', '--docs', join(dir, 'none.md')]), 'cannot write dashboards to /proc/nope/deeper');
  });

  it('dashboards build --docs FIFO is refused by name (reading it blocked for ever)', async () => {
    expectClearError(await run(['dashboards', 'build', '--out', join(dir, 'dash'), '--docs', fifo]), `--docs ${fifo}`, /not a regular file/);
  });

  const fifoCases: Array<[string, () => string[], string]> = [
    ['alerts routes test --rules FIFO', () => ['alerts', 'routes', 'test', '--labels', 'a=b', '--rules', fifo], `--rules ${fifo}`],
    ['alerts export --rules FIFO', () => ['alerts', 'export', '--prometheus', '--rules', fifo], `--rules ${fifo}`],
    ['alerts export --output FIFO', () => ['alerts', 'export', '--prometheus', '--rules', join(dir, 'empty-alerts.yaml'), '--output', fifo], `--output ${fifo}`],
    ['bench nab --labels FIFO', () => ['bench', 'nab', '--labels', fifo, '--data', join(dir, 'no-series'), '--out', join(dir, 'nab-out')], `--labels ${fifo}`],
    // Mode 0600, so the token-file permission check lets it through to the read.
    ['collector --token-file FIFO', () => ['collector', '--token-file', privateFifo, '--redis-url', deadRedis, '--data-dir', join(dir, 'c2')], `--token-file ${privateFifo}`],
    ['collector --tls-cert FIFO', () => ['collector', '--tls-cert', privateFifo, '--tls-key', privateFifo, '--insecure-no-auth', '--redis-url', deadRedis, '--data-dir', join(dir, 'c3')], `--tls-cert ${privateFifo}`],
    ['scheduler --token-file FIFO', () => ['scheduler', '--token-file', privateFifo, '--redis-url', deadRedis, '--data-dir', join(dir, 's1')], `--token-file ${privateFifo}`],
    ['agent --token-file FIFO', () => ['agent', '--token-file', privateFifo, '--state-dir', join(dir, 'a1')], `--token-file ${privateFifo}`],
  ];
  for (const [name, args, mention] of fifoCases) {
    it(`${name} is refused by name (it blocked for ever)`, async () => {
      expectClearError(await run(args()), mention, /not a regular file/);
    });
  }

  it('dashboards build into a new nested directory still writes every dashboard', async () => {
    const out = join(dir, 'a', 'b', 'dash');
    const ok = await run(['dashboards', 'build', '--out', out, '--docs', join(dir, 'none.md')]);
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).toMatch(new RegExp(`wrote \\d+ dashboards to ${out}`));
  });
});

describe('numbers past what a timer or a budget can mean', () => {
  const playbook = (): string => join(root, 'playbooks', 'kill-top-cpu.lua');
  const cases: Array<[string, () => string[], Array<string | RegExp>]> = [
    // Node's timers hold at most 2^31-1 ms; a longer delay fired after 1 ms, so a huge timeout timed out at once.
    ['status --timeout 99999999999', () => ['status', '--timeout', '99999999999', '--collector', deadHttp], ['--timeout', /from 1 to 2147483647/, '"99999999999"']],
    ['report --timeout 99999999999', () => ['report', '--format', 'json', '--timeout', '99999999999', '--collector', deadHttp], ['--timeout', '"99999999999"']],
    ['playbook run --timeout 99999999999', () => ['playbook', 'run', playbook(), '--dry-run', '--timeout', '99999999999'], ['--timeout', /at most 2147483 seconds/]],
    ['playbook run --timeout -1', () => ['playbook', 'run', playbook(), '--dry-run', '--timeout', '-1'], ['--timeout', '"-1"']],
    ['playbook run --max-instructions 0', () => ['playbook', 'run', playbook(), '--dry-run', '--max-instructions', '0'], ['--max-instructions', '"0"']],
    ['playbook run --max-memory-mb -5', () => ['playbook', 'run', playbook(), '--dry-run', '--max-memory-mb', '-5'], ['--max-memory-mb', '"-5"']],
  ];
  for (const [name, args, mentions] of cases) {
    it(name, async () => {
      expectClearError(await run(args()), ...mentions);
    });
  }
});

describe('an output that is the input under another name', () => {
  for (const command of ['detect', 'forecast', 'scale plan'] as const) {
    it(`${command}: --output a/../input is refused and the input is left whole (a streaming detect truncated it)`, async () => {
      const input = join(dir, `${command.replace(' ', '-')}-in.csv`);
      const text = readFileSync(trace, 'utf8');
      writeFileSync(input, text);
      mkdirSync(join(dir, `${command.replace(' ', '-')}-sub`), { recursive: true });
      // Concatenated, not join(): join would normalise the ".." away.
      const sameFile = `${dir}/${command.replace(' ', '-')}-sub/../${command.replace(' ', '-')}-in.csv`;
      const args =
        command === 'detect'
          ? ['detect', '--input', input, '--output', sameFile, '--stats-only']
          : command === 'forecast'
            ? ['forecast', '-i', input, '--train-until', '1700002940', '-n', '3', '-o', sameFile, '--no-mlp']
            : ['scale', 'plan', '--trace', input, '--capacity-per-replica', '5', '--startup-steps', '1', '-o', sameFile];
      expectClearError(await run(args), /is the same file as/);
      expect(readFileSync(input, 'utf8')).toBe(text);
    });
  }
});

describe('flags and configuration before Redis (F3)', () => {
  it('up reports every bad port, not the unreachable Redis', async () => {
    const r = await run(['up', '--redis-url', deadRedis, '--data-dir', join(dir, 'up1'), '--collector-port', '99999', '--scheduler-port', '70000']);
    expectClearError(r, /collector\.port = 99999/, /scheduler\.port = 70000/);
    expect(r.code).toBe(2);
    expect(r.stderr).not.toMatch(/Redis/);
  });

  it('up reports a bad alerts file named in the config together with a bad flag, before Redis', async () => {
    const r = await run(['up', '--config', join(dir, 'alerts-in-config.yaml'), '--redis-url', deadRedis, '--data-dir', join(dir, 'up2'), '--collector-port', '123456']);
    expectClearError(r, /collector\.port = 123456/, badAlerts, /not valid YAML/);
    expect(r.stderr).not.toMatch(/Redis/);
  });

  it('up with an impossible --data-dir says so before looking for Redis', async () => {
    const r = await run(['up', '--redis-url', deadRedis, '--data-dir', '/proc/nope']);
    expectClearError(r, 'cannot use the data dir /proc/nope');
    expect(r.stderr).not.toMatch(/Redis/);
  });

  it('alerts reports a bad --port and a bad --rules file together, not the unreachable Redis', async () => {
    const r = await run(['alerts', '--redis-url', deadRedis, '--rules', badAlerts, '--port', '99999']);
    expectClearError(r, /alerts\.port = 99999/, badAlerts);
    expect(r.code).toBe(2);
    expect(r.stderr).not.toMatch(/Redis/);
  });

  it('alerts --rules FIFO is refused by name before Redis (reading it blocked for ever)', async () => {
    const r = await run(['alerts', '--redis-url', deadRedis, '--rules', fifo]);
    expectClearError(r, fifo, /not a regular file/);
    expect(r.stderr).not.toMatch(/Redis/);
  });

  it('with good flags the unreachable Redis is what is reported (validation does not refuse good input)', async () => {
    mkdirSync(join(dir, 'up3'));
    expectClearError(await run(['up', '--redis-url', deadRedis, '--data-dir', join(dir, 'up3')]), /Redis at redis:\/\/127\.0\.0\.1:9.* does not answer/);
    // A named alerts file must exist (a missing one is a configuration error of its own): an empty one is good input.
    writeFileSync(join(dir, 'empty-alerts.yaml'), '');
    expectClearError(await run(['alerts', '--redis-url', deadRedis, '--rules', join(dir, 'empty-alerts.yaml')]), /Redis at redis:\/\/127\.0\.0\.1:9.* does not answer/);
    expectClearError(await run(['alerts', '--redis-url', deadRedis, '--rules', join(dir, 'missing.yaml')]), /the alerts file \S+missing\.yaml does not exist/);
  });
});

describe('secrets in URLs are never printed (F4)', () => {
  const cases: Array<[string, string[]]> = [
    ['status --collector with user:password', ['status', '--collector', `http://user:${secret}@127.0.0.1:9`]],
    ['status --collector with a token in the query', ['status', '--collector', `${deadHttp}/?token=${secret}`]],
    ['report --collector with user:password', ['report', '--format', 'json', '--collector', `http://${secret}@127.0.0.1:9`]],
    ['alerts list --alerts with a token in the query', ['alerts', 'list', '--alerts', `${deadHttp}/?token=${secret}`, '--token', 'x'.repeat(16)]],
    ['alerts list --alerts with user:password', ['alerts', 'list', '--alerts', `http://u:${secret}@127.0.0.1:9`, '--token', 'x'.repeat(16)]],
    ['task list --scheduler with a token in the query', ['task', 'list', '--scheduler', `${deadHttp}/?token=${secret}`, '--token', 'x'.repeat(16)]],
    ['remediation list --scheduler with user:password', ['remediation', 'list', '--scheduler', `http://u:${secret}@127.0.0.1:9`, '--token', 'x'.repeat(16)]],
    ['up --redis-url with a password', ['up', '--redis-url', `redis://:${secret}@127.0.0.1:9`, '--data-dir', join(dir, 'up4')]],
    // Invalid configuration values were printed whole: a malformed Redis URL with its password, a token too short.
    ['collector --redis-url with a password and a bad port', ['collector', '--redis-url', `redis://:${secret}@127.0.0.1:port`, '--insecure-no-auth', '--data-dir', join(dir, 'c1')]],
    ['analytics --redis-url user:password with a bad port', ['analytics', '--redis-url', `redis://u:${secret}@127.0.0.1:port`]],
  ];
  for (const [name, args] of cases) {
    it(name, async () => {
      const r = await run(args);
      expectClearError(r);
      expect(`${r.stdout}${r.stderr}`).not.toContain(secret);
    });
  }

  it('a token too short for the configuration is named by its key, not shown', async () => {
    const short = 'sh0rtX';
    const r = await run(['alerts', '--redis-url', deadRedis, '--rules', join(dir, 'missing.yaml'), '--collector-token', short]);
    expectClearError(r, /alerts\.collectorToken = \(secret, not shown\)/);
    expect(r.stderr).not.toContain(short);
  });

  it('a plain service URL is still accepted (the unreachable collector is what is reported)', async () => {
    expectClearError(await run(['status', '--collector', deadHttp, '--token', 'x'.repeat(16)]), /cannot reach the collector at http:\/\/127\.0\.0\.1:9/);
  });
});
