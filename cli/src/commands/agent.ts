import { join } from 'node:path';
import type { Command } from 'commander';
import type { AgentFlags } from '@sloth/agent';
import { processEnv } from '@sloth/core/config';
import { limitHeapGrowth } from '@sloth/core/heap';
import { maxTokenFileBytes, readTokenFile } from '@sloth/core/tokens';
import { addCommonOptions, collect, commandGroup, intFlag, numberFlag, privateFiles } from '../options.js';
import { checkInputFile } from '../input-files.js';
import { serviceUrlFlag } from '../urls.js';
import { registerAgentDrain } from './task.js';

interface ChecksFlags {
  config?: string;
  dataDir?: string;
  stateDir?: string;
  json?: boolean;
}

const out = (line: string): void => void process.stdout.write(`${line}\n`);

/** `sloth agent` (runs the agent) and `sloth agent checks` (lists its health checks). */
export function registerAgent(program: Command): void {
  const agent = addCommonOptions(commandGroup(program, 'agent', 'run the Sloth agent: host telemetry over OTLP, health checks, durable export'))
    .option('--collector <url>', 'collector OTLP/HTTP base URL (default: http://127.0.0.1:4318)', serviceUrlFlag('--collector'))
    .option('--token <secret>', 'bearer token for the collector (env SLOTH_AGENT_TOKEN)')
    .option('--token-file <file>', 'read the token from a file (mode 0600) so it stays out of ps (env SLOTH_AGENT_TOKEN_FILE)')
    .option('--insecure-no-auth', 'send without a token (collector started with --insecure-no-auth)')
    .option('--interval <seconds>', 'collection and export interval, ≥ 1 (default: 10)', numberFlag('--interval'))
    .option('--metrics-port <port>', "agent's own Prometheus endpoint port; 0 disables it (default: 9465)", intFlag('--metrics-port'))
    .option('--label <key=value>', 'placement label, exported as sloth.agent.label.<key>; repeatable', collect)
    .option('--id <id>', 'fix the agent id (default: generated once and kept in the state dir)')
    .option('--state-dir <dir>', 'agent id, export spool, check state and log file (default: <data-dir>/agent)')
    .option('--allow-exec <command>', 'command remediation playbooks may run; repeatable', collect)
    .option('--allow-http <host>', 'host remediation playbooks may call; repeatable', collect)
    .option('--allow-fs <dir>', 'directory remediation playbooks may change; repeatable', collect)
    .addHelpText('after', '\nWith --redis-url (or redisUrl in the config file) the agent also runs remediation playbooks queued for it\n(BullMQ queue agent.<id>) in the Lua sandbox, within the --allow-* lists.')
    .action(async (flags: AgentFlags & { tokenFile?: string }) => {
      privateFiles();
      limitHeapGrowth();
      const { tokenFile, ...agentFlags } = flags;
      const file = tokenFile ?? processEnv().SLOTH_AGENT_TOKEN_FILE;
      // The file's first SECRET (a ":name" suffix, if any, is the collector's business and is not sent).
      if (file !== undefined && agentFlags.token === undefined) {
        // Read whole: a FIFO blocked the start for ever (session F).
        checkInputFile(file, tokenFile === undefined ? 'SLOTH_AGENT_TOKEN_FILE' : '--token-file', { maxBytes: maxTokenFileBytes });
        agentFlags.token = readTokenFile(file)[0]?.token;
      }
      const { runAgent } = await import('@sloth/agent');
      await runAgent(agentFlags);
    });

  agent
    .command('checks')
    .description("list the agent's health checks and their state (read from <state-dir>/checks.json, written by the running agent)")
    .option('-c, --config <file>', 'YAML config file (default: sloth.yaml in the working directory, if present)')
    .option('--data-dir <dir>', 'where Sloth keeps its data (default: ./.sloth)')
    .option('--state-dir <dir>', 'the agent state dir (default: <data-dir>/agent)')
    .option('--json', 'print the state as JSON')
    .action(async (_flags: ChecksFlags, command: Command) => {
      const flags = command.optsWithGlobals<ChecksFlags>();
      const { formatHealthReport, readHealthReport, resolveAgentStateDir } = await import('@sloth/agent');
      const stateDir =
        flags.stateDir ?? resolveAgentStateDir({ file: flags.config, env: processEnv(), flags: { dataDir: flags.dataDir } });
      const path = join(stateDir, 'checks.json');
      const report = await readHealthReport(path);
      if (report === undefined) {
        process.stderr.write(`sloth: no agent state at ${path}: start the agent (sloth agent) with this --data-dir/--state-dir first\n`);
        process.exitCode = 1;
        return;
      }
      out(flags.json === true ? JSON.stringify(report, null, 2) : formatHealthReport(report));
    });

  registerAgentDrain(agent);
}
