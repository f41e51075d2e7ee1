import { availableParallelism } from 'node:os';
import { InvalidArgumentError, Option, type Command } from 'commander';
import { InputError } from '@sloth/core/errors';

/** Flags every role understands (see ARCHITECTURE.md). */
export function addCommonOptions(command: Command): Command {
  return command
    .option('-c, --config <file>', 'YAML config file (default: sloth.yaml in the working directory, if present)')
    .option('--data-dir <dir>', 'where Sloth keeps its data (default: ./.sloth)')
    .option('--redis-url <url>', 'Redis to use, e.g. redis://127.0.0.1:6379 (env REDIS_URL)')
    .option('--redis-prefix <prefix>', 'prefix of every Redis key Sloth writes (default: sloth)')
    .addOption(new Option('--log-level <level>', 'log level').choices(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']));
}

/** The flags {@link addCommonOptions} adds, as parsed by commander. */
export interface CommonFlags {
  config?: string;
  dataDir?: string;
  redisUrl?: string;
  redisPrefix?: string;
  logLevel?: string;
}

/** The common flags as configuration values for `loadConfig` (undefined ones are ignored there). */
export function commonConfigFlags(flags: CommonFlags): { dataDir?: string; redisUrl?: string; redisPrefix?: string; logLevel?: string } {
  return { dataDir: flags.dataDir, redisUrl: flags.redisUrl, redisPrefix: flags.redisPrefix, logLevel: flags.logLevel };
}

/** Parses a decimal integer flag, rejecting anything else with a message naming the flag. */
export function intFlag(name: string): (value: string) => number {
  return (value: string): number => {
    // InvalidArgumentError: commander reports it as a usage error (exit 1, with --help hint), not a crash with a stack.
    if (!/^-?\d+$/.test(value)) throw new InvalidArgumentError(`${name} must be an integer, got ${JSON.stringify(value)}`);
    return Number(value);
  };
}

/** Parses a number flag. */
export function numberFlag(name: string): (value: string) => number {
  return (value: string): number => {
    const n = Number(value);
    if (value.trim() === '' || !Number.isFinite(n)) throw new InvalidArgumentError(`${name} must be a number, got ${JSON.stringify(value)}`);
    return n;
  };
}

/** Parses a number flag that must be above 0 (a timeout, a duration). */
export function positiveNumberFlag(name: string): (value: string) => number {
  const parse = numberFlag(name);
  return (value: string): number => {
    const n = parse(value);
    if (n <= 0) throw new InvalidArgumentError(`${name} must be a number above 0, got ${JSON.stringify(value)}`);
    return n;
  };
}

/** Longest delay Node's timers hold (a signed 32-bit count of milliseconds); a longer one fires after 1 ms instead. */
export const maxTimerMillis = 2_147_483_647;

/** Parses an integer flag within [min, max], the message naming the flag, the range and the value. */
export function intInRangeFlag(name: string, min: number, max: number): (value: string) => number {
  const parse = intFlag(name);
  return (value: string): number => {
    const n = parse(value);
    if (n < min || n > max) throw new InvalidArgumentError(`${name} must be an integer from ${min} to ${max}, got ${JSON.stringify(value)}`);
    return n;
  };
}

/**
 * Most worker threads a command starts: twice the CPUs this process may use. Past that, threads only
 * queue for a core while each holds its own heap (a Lua VM, a TensorFlow.js model, a detector), so a
 * mistyped `--workers 100000` would exhaust memory or the thread limit instead of running.
 */
export function maxWorkerThreads(): number {
  return availableParallelism() * 2;
}

/** Parses a count of worker threads: an integer from 1 to {@link maxWorkerThreads}, the message naming the flag, the range and the value. */
export function workerThreadsFlag(name: string): (value: string) => number {
  const parse = intFlag(name);
  return (value: string): number => {
    const n = parse(value);
    const max = maxWorkerThreads();
    if (n < 1 || n > max) throw new InvalidArgumentError(`${name} must be an integer from 1 to ${max} (twice the ${max / 2} CPUs here), got ${JSON.stringify(value)}`);
    return n;
  };
}

/** Parses a duration in seconds: above 0 and within what a timer can wait ({@link maxTimerMillis}). */
export function secondsFlag(name: string): (value: string) => number {
  const parse = positiveNumberFlag(name);
  return (value: string): number => {
    const n = parse(value);
    if (n * 1000 > maxTimerMillis) throw new InvalidArgumentError(`${name} must be at most ${Math.floor(maxTimerMillis / 1000)} seconds (the longest a timer waits), got ${JSON.stringify(value)}`);
    return n;
  };
}

/** Collects a repeatable flag into an array. */
export function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

/** The `sloth bench` command group, created on first use so each benchmark registers itself. */
export function benchCommand(program: Command): Command {
  const existing = program.commands.find((c) => c.name() === 'bench');
  if (existing !== undefined) return existing;
  return program.command('bench').description('run Sloth benchmarks (NAB scoring, forecasting backtests, …)');
}

/** A command group (e.g. `agent`, `playbook`, `remediation`) shared by several modules, created on first use. */
export function commandGroup(program: Command, name: string, description: string): Command {
  const existing = program.commands.find((c) => c.name() === name);
  if (existing !== undefined) return existing;
  return program.command(name).description(description);
}

/**
 * Makes every file and directory this process creates private to its user
 * (0600 / 0700): the WAL, the stores, the audit database, token files and the
 * Redis Sloth starts hold telemetry and secrets. Called first by each role.
 */
export function privateFiles(): void {
  process.umask(0o077);
}

/** The detector flags `sloth detect` and `sloth bench nab` share. */
export interface DetectorFlags {
  model?: boolean;
  statsOnly?: boolean;
  algorithm?: 'ensemble' | 'legacy';
}

/** Adds `--model`, `--stats-only` and `--algorithm` (see {@link detectorOptionsOf}). */
export function addDetectorOptions(command: Command): Command {
  return command
    .option('--model', "legacy detector: also train the TF.js model and use its predictions (opt-in; out of fold it scored below statistics only, see docs/anomaly-detection.md)")
    .option('--stats-only', 'statistics only, without the TF.js model (the default; kept for scripts that pass it)')
    .addOption(
      new Option('--algorithm <name>', 'legacy (the tuned statistics, the default) or ensemble (robust detectors + anomaly likelihood, constants set a priori)').choices(['legacy', 'ensemble']),
    );
}

/** The detector options the flags ask for; `--model` with `--stats-only` or `--algorithm ensemble` is refused. */
export function detectorOptionsOf(flags: DetectorFlags): { useModel?: boolean; algorithm?: 'ensemble' | 'legacy' } {
  if (flags.model === true && flags.statsOnly === true) throw new InputError('--model and --stats-only contradict each other: give one');
  if (flags.model === true && flags.algorithm === 'ensemble') throw new InputError('--model is for the legacy detector; the ensemble detector has no model');
  return { ...(flags.model === true ? { useModel: true } : {}), ...(flags.statsOnly === true ? { useModel: false } : {}), ...(flags.algorithm === undefined ? {} : { algorithm: flags.algorithm }) };
}
