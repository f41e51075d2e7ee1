import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Command } from 'commander';
import type * as AgentPackage from '@sloth/agent/playbook';
import type { LocalPlaybookHost, PlaybookLimits, PlaybookResult, PlaybookRuntime } from '@sloth/agent/playbook';
import { InputError } from '@sloth/core/errors';
import { checkInputFile, maxWholeFileBytes } from '../input-files.js';
import { collect, commandGroup, intInRangeFlag, secondsFlag } from '../options.js';
import { useBaselineWasm } from '../prestart.js';

interface RunFlags {
  param?: string[];
  dryRun?: boolean;
  event?: string;
  allowExec?: string[];
  readOnlyExec?: string[];
  allowHttp?: string[];
  allowFs?: string[];
  dataDir?: string;
  timeout?: number;
  maxInstructions?: number;
  maxMemoryMb?: number;
  json?: boolean;
}

function parseParams(pairs: readonly string[] = []): Record<string, string> {
  const params: Record<string, string> = {};
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new InputError(`--param expects key=value, got ${JSON.stringify(pair)}`);
    params[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  return params;
}

async function readText(path: string, what: string): Promise<string> {
  checkInputFile(path, what, { maxBytes: maxWholeFileBytes });
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    throw new InputError(`cannot read ${what} ${path}: ${(error as Error).message}`);
  }
}

/**
 * Deepest nesting an event may have: the collector's `maxJsonDepth` default. Deeper values overflow the
 * stack when the event is copied to the Lua worker thread (structured clone recurses).
 */
const maxEventDepth = 64;

/** The nesting depth of a parsed JSON value, stopping as soon as it passes `limit`. */
function depthOf(value: unknown, limit: number): number {
  let deepest = 0;
  const stack: Array<[unknown, number]> = [[value, 0]];
  while (stack.length > 0) {
    const [item, depth] = stack.pop() as [unknown, number];
    if (item === null || typeof item !== 'object') continue;
    if (depth + 1 > deepest) deepest = depth + 1;
    if (deepest > limit) return deepest;
    for (const child of Object.values(item)) stack.push([child, depth + 1]);
  }
  return deepest;
}

async function readEvent(path: string): Promise<unknown> {
  const text = await readText(path, 'event file');
  let event: unknown;
  try {
    event = JSON.parse(text) as unknown;
  } catch (error) {
    throw new InputError(`event file ${path} is not valid JSON: ${(error as Error).message}`);
  }
  if (depthOf(event, maxEventDepth) > maxEventDepth) throw new InputError(`event file ${path} nests objects or arrays deeper than ${maxEventDepth} levels`);
  return event;
}

function limitsFrom(flags: RunFlags): Partial<PlaybookLimits> {
  const limits: Partial<PlaybookLimits> = {};
  if (flags.timeout !== undefined) limits.timeoutMillis = flags.timeout * 1000;
  if (flags.maxInstructions !== undefined) limits.maxInstructions = flags.maxInstructions;
  if (flags.maxMemoryMb !== undefined) limits.maxMemoryBytes = flags.maxMemoryMb * 1024 * 1024;
  return limits;
}

type AgentModule = typeof AgentPackage;

/** Loads the agent package (the Lua runtime) on use and always stops its worker threads afterwards. */
async function withRuntime(run: (agent: AgentModule, runtime: PlaybookRuntime) => Promise<void>): Promise<void> {
  useBaselineWasm();
  // The playbook entry only (Lua runtime and sandbox), not the agent's OpenTelemetry SDK.
  const agent = await import('@sloth/agent/playbook');
  // One command runs one playbook at a time: one warm worker thread, not a pool that starts two.
  const runtime = new agent.PlaybookRuntime({ workers: 1 });
  try {
    await run(agent, runtime);
  } finally {
    await runtime.shutdown();
    await agent.shutdownPlaybookRuntime();
  }
}

/**
 * The host a local run acts through. Its `--allow-fs` roots are checked first, as an agent checks its own at
 * start (exist, a directory, not writable by every user, not `/`), and the real paths are what the playbook gets.
 */
async function localHost(agent: AgentModule, flags: RunFlags, print: (line: string) => void): Promise<LocalPlaybookHost> {
  const roots = await agent.checkFsRoots(flags.allowFs ?? []);
  return new agent.LocalPlaybookHost({
    stateDir: join(flags.dataDir ?? '.sloth', 'agent', 'state'),
    allowExec: flags.allowExec ?? [],
    readOnlyExec: flags.readOnlyExec ?? [],
    allowHttp: flags.allowHttp ?? [],
    allowFsRoots: roots.map((root) => root.realPath),
    print,
  });
}

function printResult(result: PlaybookResult): void {
  const out = process.stdout;
  if (result.actions.length > 0) {
    out.write('actions:\n');
    for (const action of result.actions) {
      out.write(`  ${action.dryRun ? 'would ' : ''}${action.kind} ${JSON.stringify(action.detail)}\n`);
    }
  }
  const status = result.ok ? 'ok' : 'FAILED';
  out.write(`result: ${status}${result.message === '' ? '' : `: ${result.message}`}\n`);
  if (result.error !== undefined) out.write(`error: [${result.error.code}]${result.error.limit === undefined ? '' : ` (limit: ${result.error.limit})`} ${result.error.message}\n`);
  out.write(`duration: ${result.durationMillis.toFixed(1)} ms (start ${result.startupMillis.toFixed(2)} ms)\n`);
}

function runOptions(command: Command): Command {
  return command
    .option('-p, --param <key=value>', 'a playbook parameter (repeatable)', collect)
    .option('--allow-exec <command>', 'allow exec of this command (repeatable)', collect)
    .option('--read-only-exec <command>', 'an allowed command that only reads, so it also runs in dry-run mode (repeatable)', collect)
    .option('--allow-http <host>', 'allow http.get/post to this host or host:port (repeatable)', collect)
    .option('--allow-fs <dir>', 'allow the fs module inside this directory (repeatable)', collect)
    .option('--data-dir <dir>', 'state lives in <dir>/agent/state (default: ./.sloth)')
    .option('--timeout <seconds>', 'wall-clock limit (default: the playbook timeout, else 30)', secondsFlag('--timeout'))
    .option('--max-instructions <n>', 'Lua instruction budget (≥ 1)', intInRangeFlag('--max-instructions', 1, Number.MAX_SAFE_INTEGER))
    .option('--max-memory-mb <n>', 'Lua memory cap in MiB (≥ 1)', intInRangeFlag('--max-memory-mb', 1, Number.MAX_SAFE_INTEGER))
    .option('--json', 'print the result as JSON');
}

async function runCommand(agent: AgentModule, runtime: PlaybookRuntime, file: string, flags: RunFlags, forceDryRun: boolean): Promise<void> {
  const source = await readText(file, 'playbook');
  const playbook = await agent.loadPlaybook(source, file, runtime);
  const print = flags.json === true ? (): void => undefined : (line: string): void => void process.stdout.write(`${line}\n`);
  const event = flags.event === undefined ? undefined : await readEvent(flags.event);
  if (forceDryRun) {
    const parsed = agent.parsePlaybookEvent(event);
    const matches = agent.matchTriggers(playbook, parsed);
    if (matches.length === 0) process.stdout.write(`triggers: none of ${playbook.metadata.triggers.length} trigger(s) of '${playbook.metadata.name}' matches the event\n`);
    for (const match of matches) process.stdout.write(`trigger ${match.index + 1} matches: ${Object.keys(match.trigger)[0]} (${match.reason})\n`);
    process.stdout.write('running in dry-run mode:\n');
  }
  const host = await localHost(agent, flags, print);
  const result = await agent.runPlaybook(playbook, {
    params: parseParams(flags.param),
    event,
    dryRun: forceDryRun || flags.dryRun === true,
    host,
    limits: limitsFrom(flags),
    runtime,
  });
  if (flags.json === true) process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  else printResult(result);
  process.exitCode = result.ok ? 0 : 1;
}

/** `sloth playbook run | lint | test`: run playbooks locally, outside an agent. */
export function registerPlaybook(program: Command): void {
  const group = commandGroup(program, 'playbook', 'Lua playbooks: run, lint and test them locally');

  runOptions(group.command('run').argument('<file>', 'playbook .lua file'))
    .description('run a playbook locally (logs, metrics and alerts are printed; state lives under --data-dir)')
    .option('--dry-run', 'record side effects (exec, http.post, state.set, fs, alerts) instead of doing them')
    .option('--event <file>', 'JSON file with the triggering event (anomaly or Sloth event), given to the playbook as ctx.event')
    .action(async (file: string, flags: RunFlags) => {
      await withRuntime((agent, runtime) => runCommand(agent, runtime, file, flags, false));
    });

  runOptions(group.command('test').argument('<file>', 'playbook .lua file'))
    .description('show which triggers match an event, then run the playbook with it in dry-run mode')
    .requiredOption('--event <file>', 'JSON file with the event (anomaly event or Sloth event; alerts are type "alert" with attributes.name)')
    .action(async (file: string, flags: RunFlags) => {
      await withRuntime((agent, runtime) => runCommand(agent, runtime, file, flags, true));
    });

  group
    .command('lint')
    .argument('<files...>', 'playbook .lua files')
    .description('check syntax, forbidden globals and the metadata schema; exit 1 if any file has an error')
    .option('--json', 'print the reports as JSON')
    .action(async (files: string[], flags: { json?: boolean }) => {
      await withRuntime(async (agent, runtime) => {
        let failed = false;
        const reports = [];
        for (const file of files) {
          const report = await agent.lintPlaybook(await readText(file, 'playbook'), file, runtime);
          reports.push(report);
          failed ||= !report.ok;
          if (flags.json === true) continue;
          for (const problem of report.problems) {
            process.stdout.write(`${file}${problem.line === undefined ? '' : `:${problem.line}`}: ${problem.severity}: ${problem.message}\n`);
          }
          if (report.problems.length === 0) process.stdout.write(`${file}: ok\n`);
        }
        if (flags.json === true) process.stdout.write(`${JSON.stringify(reports, null, 2)}\n`);
        process.exitCode = failed ? 1 : 0;
      });
    });
}
