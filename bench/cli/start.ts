/**
 * CLI start-up: wall time of `sloth --help`, `sloth playbook run` of a
 * trivial playbook and `sloth status` (against a port where nothing
 * listens, so it measures start-up plus one refused connection), each run
 * `--runs` times in fresh processes, hyperfine-style (one warm-up run
 * first). Prints JSON with median and min per command and the same for a
 * bare `node -e 0`, the floor on this machine.
 *
 *   npx tsc -b && npx tsx bench/cli/start.ts [--runs 10]
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { freePort } from '@sloth/core/net';

const { values: args } = parseArgs({ options: { runs: { type: 'string', default: '10' } } });
const runs = Number(args.runs);
const cli = fileURLToPath(new URL('../../cli/dist/src/main.js', import.meta.url));

function timeRuns(argv: readonly string[], cwd: string): { medianMillis: number; minMillis: number } {
  const times: number[] = [];
  for (let i = 0; i <= runs; i++) {
    const started = performance.now();
    spawnSync(process.execPath, argv, { cwd, stdio: 'ignore' });
    if (i > 0) times.push(performance.now() - started);
  }
  times.sort((a, b) => a - b);
  return { medianMillis: Math.round(times[Math.floor(times.length / 2)] as number), minMillis: Math.round(times[0] as number) };
}

const dir = mkdtempSync(join(tmpdir(), 'sloth-bench-cli-'));
try {
  const playbook = join(dir, 'trivial.lua');
  writeFileSync(playbook, 'return { name = "trivial", run = function(ctx) end }\n');
  const closedPort = await freePort();
  const result = {
    runs,
    node: timeRuns(['-e', '0'], dir),
    help: timeRuns([cli, '--help'], dir),
    playbookRun: timeRuns([cli, 'playbook', 'run', playbook, '--data-dir', join(dir, 'data')], dir),
    status: timeRuns([cli, 'status', '--collector', `http://127.0.0.1:${closedPort}`], dir),
    loadAverage1m: Number(loadavg()[0]?.toFixed(1)),
  };
  process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
