import { readFileSync } from 'node:fs';
import { InvalidArgumentError, Option, type Command } from 'commander';
import { processEnv } from '@sloth/core/config';
import { InputError, SlothError } from '@sloth/core/errors';
import { printable } from '@sloth/core/printable';
import { redactText } from '@sloth/core/redact-text';
import type { TaskClient, TaskClientResult, TaskRecord } from '@sloth/scheduler';
import { checkInputFile, maxWholeFileBytes } from '../input-files.js';
import { readLocalToken } from '../local-token.js';
import { defaultDataDir, defaultSchedulerUrl, localServiceUrl } from '../up-endpoints.js';
import { serviceUrlFlag } from '../urls.js';
import { collect, commandGroup, intFlag, numberFlag } from '../options.js';

interface ApiFlags {
  scheduler?: string;
  token?: string;
  dataDir: string;
  json?: boolean;
}

interface SpecFlags {
  spec?: string;
  name?: string;
  playbook?: string;
  command?: string[];
  param?: string[];
  priority?: number;
  cpu?: number;
  memoryMb?: number;
  constraint?: string[];
  affinity?: string[];
  strategy?: string;
  timeout?: number;
  retries?: number;
  backoff?: number;
}

const out = (line: string): void => void process.stdout.write(`${line}\n`);

function argument<T>(parse: (value: string) => T): (value: string) => T {
  return (value) => {
    try {
      return parse(value);
    } catch (error) {
      throw new InvalidArgumentError(error instanceof Error ? error.message : String(error));
    }
  };
}

function tokenOf(flags: ApiFlags): string | undefined {
  return flags.token ?? processEnv().SLOTH_SCHEDULER_TOKEN ?? readLocalToken(flags.dataDir);
}

async function client(flags: ApiFlags): Promise<TaskClient> {
  const { TaskClient } = await import('@sloth/scheduler');
  return new TaskClient({ baseUrl: localServiceUrl(flags.scheduler, flags.dataDir, 'scheduler', defaultSchedulerUrl), token: tokenOf(flags) });
}

function unwrap<T>(result: TaskClientResult<T>): T {
  if (result.kind === 'ok') return result.value;
  if (result.kind === 'unreachable') throw new SlothError('SLOTH_ERR_UNREACHABLE', `${result.message} (is \`sloth scheduler\` or \`sloth up\` running? pass --scheduler URL, or the --data-dir of a running \`sloth up\`)`);
  const known = ['SLOTH_ERR_NOT_FOUND', 'SLOTH_ERR_CONFLICT', 'SLOTH_ERR_AUTH', 'SLOTH_ERR_INPUT'] as const;
  throw new SlothError((known as readonly string[]).includes(result.code) ? (result.code as (typeof known)[number]) : 'SLOTH_ERR_BAD_REQUEST', result.message);
}

function pairs(values: string[] | undefined, flag: string): Record<string, string> {
  const result: Record<string, string> = {};
  for (const value of values ?? []) {
    const index = value.indexOf('=');
    if (index <= 0) throw new SlothError('SLOTH_ERR_INPUT', `${flag} must be key=value, got ${JSON.stringify(value)}`);
    const key = value.slice(0, index);
    if (Object.hasOwn(result, key)) throw new SlothError('SLOTH_ERR_INPUT', `${flag} ${key} is given twice (${JSON.stringify(result[key])} and ${JSON.stringify(value.slice(index + 1))}); give it once`);
    result[key] = value.slice(index + 1);
  }
  return result;
}

/** The submission: a JSON file (--spec), then flags on top. The scheduler validates it; nothing is checked twice here. */
function specOf(flags: SpecFlags): Record<string, unknown> {
  let spec: Record<string, unknown> = {};
  if (flags.spec !== undefined) {
    checkInputFile(flags.spec, '--spec', { maxBytes: maxWholeFileBytes });
    let parsed: unknown;
    try {
      parsed = JSON.parse(readFileSync(flags.spec, 'utf8'));
    } catch (error) {
      throw new SlothError('SLOTH_ERR_INPUT', `cannot read task spec ${flags.spec}: ${(error as Error).message}`);
    }
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
      throw new SlothError('SLOTH_ERR_INPUT', `task spec ${flags.spec} must be a JSON object (the API body), got ${parsed === null ? 'null' : Array.isArray(parsed) ? 'an array' : typeof parsed}`);
    }
    spec = parsed as Record<string, unknown>;
  }
  const resources = { ...(spec.resources as Record<string, unknown> | undefined) };
  if (flags.cpu !== undefined) resources.cpuCores = flags.cpu;
  if (flags.memoryMb !== undefined) resources.memoryMb = flags.memoryMb;
  const affinity = (flags.affinity ?? []).map((value) => {
    const match = /^([^=]+)=([^:]*):(-?\d+(\.\d+)?)$/.exec(value);
    if (match === null) throw new SlothError('SLOTH_ERR_INPUT', `--affinity must be label=value:weight (weight −100…100), got ${JSON.stringify(value)}`);
    return { label: match[1], value: match[2], weight: Number(match[3]) };
  });
  return {
    ...spec,
    ...(flags.name === undefined ? {} : { name: flags.name }),
    ...(flags.playbook === undefined ? {} : { playbook: flags.playbook }),
    ...(flags.command === undefined ? {} : { command: flags.command }),
    ...(flags.param === undefined ? {} : { params: { ...(spec.params as object | undefined), ...pairs(flags.param, '--param') } }),
    ...(flags.priority === undefined ? {} : { priority: flags.priority }),
    ...(Object.keys(resources).length === 0 ? {} : { resources }),
    ...(flags.constraint === undefined ? {} : { constraints: { ...(spec.constraints as object | undefined), ...pairs(flags.constraint, '--constraint') } }),
    ...(affinity.length === 0 ? {} : { affinity: [...((spec.affinity as unknown[] | undefined) ?? []), ...affinity] }),
    ...(flags.strategy === undefined ? {} : { strategy: flags.strategy }),
    ...(flags.timeout === undefined ? {} : { timeoutSeconds: flags.timeout }),
    ...(flags.retries === undefined && flags.backoff === undefined
      ? {}
      : { retries: { ...(flags.retries === undefined ? {} : { attempts: flags.retries }), ...(flags.backoff === undefined ? {} : { backoffSeconds: flags.backoff }) } }),
  };
}

function apiOptions(command: Command): Command {
  return command
    .option('--scheduler <url>', 'scheduler API base URL (default: the running `sloth up`\'s, else http://127.0.0.1:8080)', serviceUrlFlag('--scheduler'))
    .option('--token <secret>', 'API bearer token (default: env SLOTH_SCHEDULER_TOKEN, else the token `sloth up` keeps in --data-dir)')
    .option('--data-dir <dir>', 'data dir of a local `sloth up` (for its token)', defaultDataDir())
    .option('--json', 'print JSON');
}

function specOptions(command: Command): Command {
  return command
    .option('--spec <file>', 'task spec as JSON (the API body); flags below override its fields')
    .option('--name <text>', 'a name shown in lists')
    .option('--playbook <name>', 'run this playbook of the scheduler’s playbook directory')
    .option('--command <argv...>', 'run this allow-listed command (argv, no shell); scheduler.tasks.allowedCommands lists what is allowed; for arguments starting with "-", put the command after -- instead')
    .option('--param <key=value>', 'playbook parameter; repeatable', collect)
    .option('--priority <n>', '1 (most urgent) … 1000 (default 100)', argument(intFlag('--priority')))
    .option('--cpu <cores>', 'CPU cores to reserve', argument(numberFlag('--cpu')))
    .option('--memory-mb <mb>', 'memory to reserve, MB', argument(numberFlag('--memory-mb')))
    .option('--constraint <label=value>', 'agent label the task requires; repeatable', collect)
    .option('--affinity <label=value:weight>', 'prefer (weight > 0) or avoid (< 0) agents with this label, −100…100; repeatable', collect)
    .addOption(new Option('--strategy <strategy>', 'override the cluster default').choices(['bin-pack', 'spread']))
    .option('--timeout <seconds>', 'a run without a result after this long fails (default 300)', argument(numberFlag('--timeout')))
    .option('--retries <n>', 'further attempts after a failure, each preferring another agent (default 0)', argument(intFlag('--retries')))
    .option('--backoff <seconds>', 'delay before the first retry, doubled each time (default 5)', argument(numberFlag('--backoff')));
}

/**
 * A task with what it said (its reason, each attempt's result message: a command's output) secrets
 * masked, the token used among them. The scheduler masks what it stores, but not records stored before it did.
 */
function maskedTask(task: TaskRecord, token: string | undefined): TaskRecord {
  const mask = (text: string): string => redactText(text, { knownSecrets: [token] });
  return { ...task, reason: task.reason === null ? null : mask(task.reason), attempts: task.attempts.map((a) => ({ ...a, message: a.message === null ? null : mask(a.message) })) };
}

function printTask(task: TaskRecord, formatDecision: (d: NonNullable<TaskRecord['decision']>) => string[]): void {
  const rows: Array<[string, string]> = [
    ['id', task.id],
    ['state', task.state],
    ['what', task.spec.playbook !== undefined ? `playbook ${task.spec.playbook}` : `command ${JSON.stringify(task.spec.command)}`],
    ['name', task.spec.name ?? '-'],
    ['priority', String(task.spec.priority)],
    ['resources', `${task.spec.resources.cpuCores} cpu cores, ${task.spec.resources.memoryMb} MB`],
    ['submitted', `${new Date(task.createdAtMillis).toISOString()} by ${task.submittedBy}`],
    ['reason', printable(task.reason ?? '-')],
  ];
  const width = Math.max(...rows.map(([k]) => k.length));
  for (const [key, value] of rows) out(`${key.padEnd(width)}  ${value}`);
  for (const a of task.attempts) {
    // A command's result message carries the end of its output after the first line: shown indented, as text.
    const [summary, ...output] = (a.message ?? '').split('\n');
    const again = a.redeliveries === undefined ? '' : `; started ${a.redeliveries + 1} times (redelivered after a restart)`;
    out(`attempt ${a.attempt}: ${a.agentId} ${a.outcome ?? 'in progress'}${a.message === null ? '' : ` (${printable(summary ?? '')})`} placed ${new Date(a.placedAtMillis).toISOString()}${again}`);
    for (const line of output) out(`  ${printable(line)}`);
  }
  if (task.decision !== null) {
    out('placement:');
    for (const line of formatDecision(task.decision)) out(`  ${line}`);
  }
}

/** `sloth task submit | list | show ID | cancel ID | plan`. */
export function registerTask(program: Command): void {
  const group = commandGroup(program, 'task', 'submit and follow tasks the scheduler places on agents by their resources, labels, load and forecasts');

  specOptions(apiOptions(group.command('submit').description('submit a task (a playbook or an allow-listed command) with its resources, constraints, affinity, timeout and retries')))
    .argument('[argv...]', 'after --: the command and its arguments (as --command, but arguments may start with "-")')
    .addHelpText(
      'after',
      '\nExamples:\n  sloth task submit --playbook collect-metrics --cpu 0.5 --memory-mb 256 --constraint zone=eu --affinity disk=ssd:50 --retries 2\n  sloth task submit --cpu 0.1 --memory-mb 32 -- ps -eo pid,comm',
    )
    .action(async (argv: string[], flags: ApiFlags & SpecFlags) => {
      if (argv.length > 0 && flags.command !== undefined) throw new SlothError('SLOTH_ERR_INPUT', `give the command once: --command ${flags.command.join(' ')} or after --: ${argv.join(' ')}`);
      const api = await client(flags);
      let task = unwrap(await api.submit(specOf(argv.length > 0 ? { ...flags, command: argv } : flags)));
      // A task that went through the queue gets its first look within moments: wait briefly for it, so the
      // answer says where it went or why it waits, not just "queued".
      for (let waited = 0; task.state === 'queued' && waited < 2000; waited += 100) {
        await new Promise((resolve) => setTimeout(resolve, 100));
        const shown = await api.show(task.id);
        if (shown.kind !== 'ok') break;
        task = shown.value;
      }
      out(flags.json === true ? JSON.stringify(task, null, 2) : `${task.id} ${task.state}${task.state === 'queued' || task.reason === null ? '' : `: ${task.reason}`}`);
    });

  specOptions(apiOptions(group.command('plan').description('dry run: where a task would be placed now and why (agents evaluated, filtered by which reason, exhausted by which resource, each candidate’s score); reserves nothing')))
    .argument('[spec]', 'task spec JSON file (same as --spec)')
    .action(async (file: string | undefined, flags: ApiFlags & SpecFlags) => {
      const { formatDecision } = await import('@sloth/scheduler');
      if (file !== undefined && flags.spec !== undefined && file !== flags.spec) throw new SlothError('SLOTH_ERR_INPUT', `give the task spec once: ${file} or --spec ${flags.spec}`);
      const decision = unwrap(await (await client(flags)).plan(specOf({ ...flags, ...(file === undefined ? {} : { spec: file }) })));
      if (flags.json === true) out(JSON.stringify(decision, null, 2));
      // A dry run: nothing was placed or reserved, so its first line says where the task would go.
      else for (const [i, line] of formatDecision(decision).entries()) out(i === 0 ? `dry run, nothing reserved: ${line.replace(/^placed on /, 'would be placed on ')}` : line);
    });

  apiOptions(group.command('list').description('list tasks, newest first'))
    .addOption(new Option('--state <state>', 'only tasks in this state').choices(['queued', 'waiting', 'placed', 'running', 'retrying', 'succeeded', 'failed', 'cancelled']))
    .option('--limit <n>', 'at most this many (default 100)', argument(intFlag('--limit')))
    .action(async (flags: ApiFlags & { state?: string; limit?: number }) => {
      const tasks = unwrap(await (await client(flags)).list({ state: flags.state, limit: flags.limit }));
      if (flags.json === true) return out(JSON.stringify(tasks, null, 2));
      const agentOf = (t: TaskRecord): string => t.attempts[t.attempts.length - 1]?.agentId ?? '-';
      const agentWidth = Math.max(5, ...tasks.map((t) => agentOf(t).length));
      out(`${'ID'.padEnd(19)} ${'STATE'.padEnd(10)} ${'AGENT'.padEnd(agentWidth)} WHAT`);
      for (const t of tasks) out(`${t.id.padEnd(19)} ${t.state.padEnd(10)} ${agentOf(t).padEnd(agentWidth)} ${printable(t.spec.name ?? t.spec.playbook ?? (t.spec.command ?? []).join(' '))}`);
      out(`${tasks.length} task${tasks.length === 1 ? '' : 's'}`);
    });

  apiOptions(group.command('show').description('show a task: state, attempts, and the placement decision explained').argument('<id>')).action(async (id: string, flags: ApiFlags) => {
    const { formatDecision } = await import('@sloth/scheduler');
    const task = maskedTask(unwrap(await (await client(flags)).show(id)), tokenOf(flags));
    if (flags.json === true) out(JSON.stringify(task, null, 2));
    else printTask(task, formatDecision);
  });

  apiOptions(group.command('cancel').description('cancel a task: a queued or waiting task never runs; a run already on an agent finishes there and its result is ignored').argument('<id>')).action(
    async (id: string, flags: ApiFlags) => {
      const task = unwrap(await (await client(flags)).cancel(id));
      out(flags.json === true ? JSON.stringify(task, null, 2) : `${task.id} ${task.state}: ${task.reason ?? ''}`);
    },
  );
}

/**
 * `sloth agent drain ID` / `sloth agent undrain ID` (added to the `agent` group). The `agent` command
 * has its own --token and --data-dir, and commander gives a flag to the first command that knows it, so
 * these read the options of both levels (and give --data-dir no default that would hide the parent's).
 */
export function registerAgentDrain(agent: Command): void {
  const options = (command: Command): Command =>
    command
      .option('--scheduler <url>', 'scheduler API base URL (default: the running `sloth up`\'s, else http://127.0.0.1:8080)', serviceUrlFlag('--scheduler'))
      .option('--token <secret>', 'API bearer token (default: env SLOTH_SCHEDULER_TOKEN, else the token `sloth up` keeps in --data-dir)')
      .option('--data-dir <dir>', 'data dir of a local `sloth up` (for its token; default $SLOTH_DATA_DIR, else ./.sloth)')
      .option('--json', 'print JSON');
  const flagsOf = (command: Command): ApiFlags => {
    const flags = command.optsWithGlobals<Partial<ApiFlags>>();
    return { ...(flags.scheduler === undefined ? {} : { scheduler: flags.scheduler }), dataDir: flags.dataDir ?? defaultDataDir(), ...(flags.token === undefined ? {} : { token: flags.token }), ...(flags.json === undefined ? {} : { json: flags.json }) };
  };
  const agentId = (id: string): string => {
    if (id.trim() === '') throw new InputError('agent id is empty; give the id `sloth status` lists');
    return id;
  };
  options(
    agent
      .command('drain')
      .description('stop placing new tasks on an agent (at once on this scheduler); tasks running there finish. An id the collector does not know is refused')
      .argument('<id>', 'agent id, as `sloth status` lists it'),
  ).action(async (id: string, _flags: unknown, command: Command) => {
    const flags = flagsOf(command);
    const result = unwrap(await (await client(flags)).drain(agentId(id), true));
    out(flags.json === true ? JSON.stringify(result) : `agent ${id} drained: ${result.message ?? 'no new placements; running tasks finish'}`);
  });
  options(agent.command('undrain').description('place tasks on a drained agent again').argument('<id>', 'agent id')).action(async (id: string, _flags: unknown, command: Command) => {
    const flags = flagsOf(command);
    const result = unwrap(await (await client(flags)).drain(agentId(id), false));
    out(flags.json === true ? JSON.stringify(result) : `agent ${id} accepts placements again${result.message === undefined ? '' : ` (${result.message})`}`);
  });
  options(agent.command('drained').description('list the drained agents')).action(async (_flags: unknown, command: Command) => {
    const flags = flagsOf(command);
    const drained = unwrap(await (await client(flags)).drained());
    if (flags.json === true) out(JSON.stringify({ agents: drained }));
    else out(drained.length === 0 ? 'no agent is drained' : drained.join('\n'));
  });
}
