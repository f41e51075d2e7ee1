/**
 * Playbook runtime benchmark (runtime part of bench/playbooks).
 *
 * 1. Warm start: with the worker pool warm, `runPlaybook` of a trivial
 *    playbook `--runs` times, one at a time; reports the time from the call
 *    to the first Lua instruction of the playbook chunk (`startupMillis`) and
 *    the whole call (`durationMillis`), p50/p95/p99. Then the same runs with
 *    `--concurrency` in flight (runs/s through the pool, no queue).
 * 2. CPU-bound: the same Lua script (fib(27), sieve to 2,000,000) in the
 *    sandbox (wasmoon with the limit hook), in bare wasmoon in this thread
 *    (no hook), and in native `lua5.4` (Debian); best and median of `--reps`.
 *
 *   nice -n 10 npx tsx bench/playbooks/runtime.ts [--runs 1000] [--concurrency 4] [--reps 5]
 *
 * Build first: `npx tsc -b` (the runtime's worker threads run the built JS).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { LuaFactory } from 'wasmoon';
import { LocalPlaybookHost, PlaybookRuntime, loadPlaybook, runPlaybook } from '@sloth/agent';

const { values: args } = parseArgs({
  options: {
    runs: { type: 'string', default: '1000' },
    concurrency: { type: 'string', default: '4' },
    reps: { type: 'string', default: '5' },
    lua: { type: 'string', default: 'lua5.4' },
  },
});
const runs = Number(args.runs);
const concurrency = Number(args.concurrency);
const reps = Number(args.reps);

function quantile(values: number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN;
}
const round = (n: number): number => Math.round(n * 1000) / 1000;
const summary = (values: number[]): Record<string, number> => ({ p50: round(quantile(values, 0.5)), p95: round(quantile(values, 0.95)), p99: round(quantile(values, 0.99)), max: round(Math.max(...values)) });

const workloads: Record<string, string> = {
  'fib(27)': `local function fib(n) if n < 2 then return n end return fib(n - 1) + fib(n - 2) end
              local result = fib(27)`,
  'sieve(2e6)': `local n = 2000000 local sieve = {} for i = 2, n do sieve[i] = true end
                 for i = 2, math.floor(math.sqrt(n)) do if sieve[i] then for j = i * i, n, i do sieve[j] = false end end end
                 local result = 0 for i = 2, n do if sieve[i] then result = result + 1 end end`,
};

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'sloth-bench-playbooks-'));
  const runtime = new PlaybookRuntime();
  const host = new LocalPlaybookHost({ stateDir: dir });
  try {
    await runtime.start();
    const trivial = await loadPlaybook('return { name = "trivial", description = "d", run = function(ctx) log.info("hi") return true, "ok" end }', 'trivial.lua', runtime);
    for (let i = 0; i < 50; i++) await runPlaybook(trivial, { host, runtime });

    const startups: number[] = [];
    const durations: number[] = [];
    for (let i = 0; i < runs; i++) {
      const result = await runPlaybook(trivial, { host, runtime });
      if (!result.ok) throw new Error(result.message);
      startups.push(result.startupMillis);
      durations.push(result.durationMillis);
    }

    const started = performance.now();
    let next = 0;
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (next < runs) {
          next += 1;
          await runPlaybook(trivial, { host, runtime });
        }
      }),
    );
    const concurrentRunsPerSecond = runs / ((performance.now() - started) / 1000);

    const cpu: Record<string, Record<string, unknown>> = {};
    const factory = new LuaFactory();
    for (const [name, body] of Object.entries(workloads)) {
      const playbook = await loadPlaybook(`return { name = "cpu", description = "d", run = function() ${body} return true, tostring(result) end }`, 'cpu.lua', runtime);
      const sandbox: number[] = [];
      let answer = '';
      for (let r = 0; r < reps; r++) {
        const result = await runPlaybook(playbook, { host, runtime, limits: { maxInstructions: 1e12, timeoutMillis: 120_000 } });
        if (!result.ok) throw new Error(result.message);
        answer = result.message;
        sandbox.push(result.durationMillis - result.startupMillis);
      }
      const bare: number[] = [];
      for (let r = 0; r < reps; r++) {
        const engine = await factory.createEngine();
        const t0 = performance.now();
        await engine.doString(`${body} return result`);
        bare.push(performance.now() - t0);
        engine.global.close();
      }
      const native: number[] = [];
      let nativeAnswer = '';
      for (let r = 0; r < reps; r++) {
        const out = spawnSync(args.lua, ['-e', `local t0 = os.clock() ${body} io.write(string.format("%.6f %s", (os.clock() - t0) * 1000, tostring(result)))`], { encoding: 'utf8' });
        if (out.status !== 0) throw new Error(`${args.lua} failed: ${out.stderr}`);
        const [millis, value] = out.stdout.split(' ');
        native.push(Number(millis));
        nativeAnswer = value ?? '';
      }
      const best = (values: number[]): number => Math.min(...values);
      cpu[name] = {
        result: answer,
        nativeResult: nativeAnswer,
        sandboxMillis: { best: round(best(sandbox)), median: round(quantile(sandbox, 0.5)) },
        bareWasmoonMillis: { best: round(best(bare)), median: round(quantile(bare, 0.5)) },
        nativeLuaCpuMillis: { best: round(best(native)), median: round(quantile(native, 0.5)) },
        sandboxOverNative: round(best(sandbox) / best(native)),
        hookOverhead: round(best(sandbox) / best(bare)),
      };
    }

    process.stdout.write(
      `${JSON.stringify(
        {
          machine: { cpus: cpus().length, model: cpus()[0]?.model, loadavg1m: round(loadavg()[0] ?? 0), node: process.version },
          warmStart: { runs, startupMillis: summary(startups), durationMillis: summary(durations) },
          concurrent: { runs, concurrency, runsPerSecond: Math.round(concurrentRunsPerSecond) },
          cpu,
        },
        null,
        2,
      )}\n`,
    );
  } finally {
    await runtime.shutdown();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
