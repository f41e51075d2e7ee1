import { spawn, spawnSync } from 'node:child_process';
import { availableParallelism, tmpdir } from 'node:os';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '@sloth/core';
import { expectClearError, main, sloth, type Run } from './helpers/sloth-process.js';

/**
 * What session F's sweep (bad-input-sweep.test.ts) left open, against the built CLI: token files
 * named in a config file that are FIFOs or far too large, secrets in URLs inside configuration
 * problems, unbounded worker-thread counts, forecast timestamps the CSV reader cannot read back.
 * Each ends quickly with a non-zero exit and an error naming the value, never a hang, a stack
 * trace, an exit 0 or a secret. Runs `cli/dist` (`npx tsc -b` first; SLOTH_TEST_CLI for another build).
 */

const dir = mkdtempSync(join(tmpdir(), 'sloth-bad-input-leftovers-'));
const privateFifo = join(dir, 'private-fifo');
const bigTokens = join(dir, 'big-tokens');
/** Nobody listens there: refused at once. */
const deadRedis = 'redis://127.0.0.1:9';
const password = 'hunter2-remote-pw';
const slackToken = 'XyZsLaCkWeBhOoKtOkEn123';
const slackUrl = `https://hooks.slack.com/services/T0AUDIT00/B0AUDIT00/${slackToken}`;

beforeAll(() => {
  const made = spawnSync('mkfifo', ['-m', '600', privateFifo]);
  if (made.status !== 0) throw new Error(`mkfifo failed: ${made.stderr.toString()}`);
  // 2 MiB, mode 0600 (so the permission check lets it through), sparse: NUL bytes after one real line.
  writeFileSync(bigTokens, 'big-file-secret-token:web-1\n', { mode: 0o600 });
  truncateSync(bigTokens, 2 * 1024 * 1024);
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

// 20 s: each of these ends in a few seconds; a hang is killed and fails the test.
const run = async (args: readonly string[]): Promise<Run> => await sloth(args, { cwd: dir, killAfterMillis: 20_000 });

function config(name: string, yaml: string): string {
  const path = join(dir, name);
  writeFileSync(path, yaml);
  return path;
}

describe('token files named in a config file (--config), checked by core readTokenFile', () => {
  it('collector: a FIFO token file is refused by name (it blocked the start for ever)', async () => {
    const file = config('collector-fifo.yaml', `collector:\n  tokenFile: ${privateFifo}\n`);
    expectClearError(await run(['collector', '--config', file, '--redis-url', deadRedis, '--data-dir', join(dir, 'c1')]), `token file ${privateFifo} is not a regular file (a FIFO)`);
  });

  it('scheduler: a FIFO token file is refused by name (it blocked the start for ever)', async () => {
    const file = config('scheduler-fifo.yaml', `scheduler:\n  tokenFile: ${privateFifo}\n`);
    expectClearError(await run(['scheduler', '--config', file, '--redis-url', deadRedis, '--data-dir', join(dir, 's1')]), `token file ${privateFifo} is not a regular file (a FIFO)`);
  });

  it('collector: an admin token file over 1 MiB is refused by its size, from the config file and as a flag', async () => {
    const file = config('collector-big.yaml', `collector:\n  adminTokenFile: ${bigTokens}\n`);
    expectClearError(await run(['collector', '--config', file, '--redis-url', deadRedis, '--data-dir', join(dir, 'c2')]), `token file ${bigTokens} is 2.0 MiB, more than the 1.0 MiB`);
    expectClearError(await run(['collector', '--token-file', bigTokens, '--redis-url', deadRedis, '--data-dir', join(dir, 'c3')]), `--token-file ${bigTokens} is 2.0 MiB`, /at most 1\.0 MiB/);
  });

  it('report --token-file over 1 MiB is refused by its size', async () => {
    expectClearError(await run(['report', '--format', 'json', '--token-file', bigTokens, '--collector', 'http://127.0.0.1:9']), `--token-file ${bigTokens} is 2.0 MiB, more than the 1.0 MiB`);
  });

  it('collector and up: TLS files named in a config file are checked like the flags (a FIFO blocked the start for ever)', async () => {
    const file = config('tls-fifo.yaml', `collector:\n  tlsCert: ${privateFifo}\n  tlsKey: ${privateFifo}\n  insecureNoAuth: true\n`);
    expectClearError(await run(['collector', '--config', file, '--redis-url', deadRedis, '--data-dir', join(dir, 'c6')]), `collector.tlsCert ${privateFifo} is not a regular file (a FIFO)`);
    const up = await run(['up', '--config', file, '--redis-url', deadRedis, '--data-dir', join(dir, 'up2')]);
    expectClearError(up, /collector\.tlsCert = .*is not a regular file \(a FIFO\)/, /collector\.tlsKey/);
    expect(up.stderr).not.toMatch(/Redis at/);
  });

  it('a config file that is a FIFO is named as one', async () => {
    expectClearError(await run(['collector', '--config', privateFifo, '--redis-url', deadRedis]), `config file ${privateFifo} is not a regular file (a FIFO)`);
  });
});

describe('URLs in configuration problems go through core redactUrl', () => {
  it('a remoteWrite entry that is not a mapping shows its URL without the password or the query values', async () => {
    const file = config('remote-write.yaml', `collector:\n  remoteWrite:\n    - "https://writer:${password}@vm.example:8428/api/v1/write?api_key=k3y-secret-5678"\n`);
    const r = await run(['collector', '--config', file, '--redis-url', deadRedis, '--data-dir', join(dir, 'c4')]);
    expectClearError(r, 'collector.remoteWrite.0', '"https://***:***@vm.example:8428/api/v1/write?api_key=***"');
    expect(r.stderr).not.toContain(password);
    expect(r.stderr).not.toContain('k3y-secret');
  });

  it('a scaling target with a Slack-like webhook actuator shows the webhook as scheme://host/… only', async () => {
    const file = config(
      'scaling.yaml',
      `scheduler:\n  scaling:\n    - actuator: { kind: webhook, url: "${slackUrl}", secret: "actuator-secret-0123456789" }\n      name: web\n      colour: red\n`,
    );
    const r = await run(['scheduler', '--config', file, '--redis-url', deadRedis, '--data-dir', join(dir, 's2')]);
    expectClearError(r, 'scheduler.scaling.0');
    for (const secret of [slackToken, '/services/', 'actuator-secret']) expect(r.stderr).not.toContain(secret);
  });

  it('a Redis URL with a user name and password is shown with both masked', async () => {
    mkdirSync(join(dir, 'up1'));
    const r = await run(['up', '--redis-url', `redis://ops:${password}@127.0.0.1:9`, '--data-dir', join(dir, 'up1')]);
    expectClearError(r, 'Redis at redis://***:***@127.0.0.1:9');
    expect(`${r.stdout}${r.stderr}`).not.toContain(password);
    expect(`${r.stdout}${r.stderr}`).not.toContain('ops:');
  });

  it('the collector never logs a remote-write URL password (fetch refused the URL and its error quoted it on every retry)', async () => {
    const port = await freePort();
    const child = spawn(process.execPath, [main, 'collector', '--insecure-no-auth', '--port', String(port), '--metrics-port', '0', '--redis-url', deadRedis, '--data-dir', join(dir, 'c5'),
      '--remote-write-url', `http://writer:${password}@127.0.0.1:9/api/v1/write`, '--log-level', 'debug'], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    try {
      const until = async (pattern: RegExp): Promise<void> => {
        for (let i = 0; i < 200 && !pattern.test(output); i++) await new Promise((resolve) => setTimeout(resolve, 100));
        expect(output).toMatch(pattern);
      };
      await until(/OTLP\/HTTP on/);
      const body = JSON.stringify({ resourceMetrics: [{ resource: { attributes: [{ key: 'service.instance.id', value: { stringValue: 'web-1' } }] }, scopeMetrics: [{ metrics: [{ name: 'audit.gauge', gauge: { dataPoints: [{ timeUnixNano: String(BigInt(Date.now()) * 1_000_000n), asDouble: 1 }] } }] }] }] });
      const answer = await fetch(`http://127.0.0.1:${port}/v1/metrics`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
      expect(answer.status).toBe(200);
      await until(/remote write: sending failed/);
      expect(output).not.toContain(password);
    } finally {
      child.kill('SIGKILL');
    }
  });
});

describe('worker-thread and concurrency counts are bounded', () => {
  const max = availableParallelism() * 2;
  const cases: Array<[string, () => string[], Array<string | RegExp>]> = [
    [`bench nab --nested --workers ${max + 1}`, () => ['bench', 'nab', '--cv', '--nested', '--data', dir, '--labels', join(dir, 'labels.json'), '--out', join(dir, 'nab'), '--workers', String(max + 1)], ['--workers', `from 1 to ${max}`, `"${max + 1}"`]],
    ['bench nab --workers 0', () => ['bench', 'nab', '--data', dir, '--labels', join(dir, 'labels.json'), '--out', join(dir, 'nab'), '--workers', '0'], ['--workers', `from 1 to ${max}`, '"0"']],
    ['bench nab --workers 100000', () => ['bench', 'nab', '--data', dir, '--labels', join(dir, 'labels.json'), '--out', join(dir, 'nab'), '--workers', '100000'], ['--workers', '"100000"']],
    ['bench forecast --workers -3', () => ['bench', 'forecast', '--data', dir, '--workers', '-3'], ['--workers', `from 1 to ${max}`, '"-3"']],
    ['remediation worker --lua-workers 100000', () => ['remediation', 'worker', '--agent-id', 'a', '--redis-url', deadRedis, '--lua-workers', '100000'], ['--lua-workers', `from 1 to ${max}`]],
    ['remediation worker --concurrency 0', () => ['remediation', 'worker', '--agent-id', 'a', '--redis-url', deadRedis, '--concurrency', '0'], ['--concurrency', 'from 1 to 1024', '"0"']],
    ['remediation worker --concurrency 99999999', () => ['remediation', 'worker', '--agent-id', 'a', '--redis-url', deadRedis, '--concurrency', '99999999'], ['--concurrency', 'from 1 to 1024']],
    ['analytics --shards 0', () => ['analytics', '--redis-url', deadRedis, '--shards', '0', '--data-dir', join(dir, 'an1')], [/shards = 0/]],
    ['analytics --shards 5000', () => ['analytics', '--redis-url', deadRedis, '--shards', '5000', '--data-dir', join(dir, 'an2')], [/shards = 5000/]],
  ];
  for (const [name, args, mentions] of cases) {
    it(`${name} is refused naming the flag and the range`, async () => {
      const r = await run(args());
      expectClearError(r, ...mentions);
      expect(r.stderr).not.toMatch(/Redis at/);
    });
  }
});

describe('detector flags that contradict each other (rule M: the TF.js model is opt-in)', () => {
  const nab = (...extra: string[]): string[] => ['bench', 'nab', '--data', dir, '--labels', join(dir, 'labels.json'), '--out', join(dir, 'nab-model'), ...extra];
  const cases: Array<[string, string[], string[]]> = [
    ['bench nab --cv --model', nab('--cv', '--model'), ['--cv', '--model', 'both paths']],
    ['bench nab --model --stats-only', nab('--model', '--stats-only'), ['--model', '--stats-only']],
    ['bench nab --model --algorithm ensemble', nab('--model', '--algorithm', 'ensemble'), ['--model', 'ensemble']],
  ];
  for (const [name, args, mentions] of cases) {
    it(`${name} is refused naming the flags, and writes nothing`, async () => {
      expectClearError(await run(args), ...mentions);
      expect(existsSync(join(dir, 'nab-model'))).toBe(false);
    });
  }
});

describe('forecast writes only timestamps the CSV reader reads back', () => {
  it('a step past year 9999 is refused naming the step (10000-01-01 has no YYYY-MM-DD form; it was written, exit 0)', async () => {
    // One row a century, years 1000 to 9900.
    const centuries = join(dir, 'centuries.csv');
    writeFileSync(centuries, ['timestamp,value', ...Array.from({ length: 90 }, (_, i) => `${1000 + i * 100}-01-01 00:00:00,${10 + (i % 7)}`)].join('\n'));
    const out = join(dir, 'centuries-forecast.csv');
    expectClearError(await run(['forecast', '-i', centuries, '--train-until', '9900-01-01 00:00:00', '-n', '3', '-o', out, '--no-mlp']), '--horizon 3', 'step 1', /at most 0 steps/);
    expect(existsSync(out)).toBe(false);
    const fits = join(dir, 'fits.csv');
    const ok = await run(['forecast', '-i', centuries, '--train-until', '9800-01-01 00:00:00', '-n', '1', '-o', fits, '--no-mlp']);
    expect(ok.code, ok.stderr).toBe(0);
    expect(readFileSync(fits, 'utf8')).toMatch(/^timestamp,value\n9900-01-0\d/);
  });

  it('epoch seconds that would reach 1e11 (read back as milliseconds, year 1973) are refused naming the step', async () => {
    const seconds = join(dir, 'seconds.csv');
    const start = 99_999_999_000 - 50 * 60;
    writeFileSync(seconds, ['timestamp,value', ...Array.from({ length: 50 }, (_, i) => `${start + i * 60},${10 + (i % 7)}`)].join('\n'));
    const out = join(dir, 'seconds-forecast.csv');
    const last = String(start + 49 * 60);
    expectClearError(await run(['forecast', '-i', seconds, '--train-until', last, '-n', '40', '-o', out, '--no-mlp']), '--horizon 40', /step \d+ after/, /at most \d+ steps/);
    expect(existsSync(out)).toBe(false);
  });
});

describe('the local token file', () => {
  it('status with a FIFO where sloth up keeps its token is refused by name (it blocked for ever)', async () => {
    const dataDir = join(dir, 'fifo-data');
    mkdirSync(dataDir);
    expect(spawnSync('mkfifo', ['-m', '600', join(dataDir, 'up-token')]).status).toBe(0);
    expectClearError(await run(['status', '--data-dir', dataDir, '--collector', 'http://127.0.0.1:9']), `${join(dataDir, 'up-token')} is not a regular file (a FIFO)`);
  });
});
