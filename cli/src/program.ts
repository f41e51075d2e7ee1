import { Command } from 'commander';
import { version } from '@sloth/core/version';
import { commands } from './commands/index.js';

/** Builds the `sloth` command tree. */
export function buildProgram(): Command {
  const program = new Command('sloth')
    .description('Sloth: observability-centred AIOps — OTLP collector, agents, anomaly detection, forecasts and Lua auto-remediation.')
    .version(version, '-V, --version', 'print the version')
    .showHelpAfterError('(run with --help for usage)')
    .showSuggestionAfterError(true);
  for (const register of commands) register(program);
  return program;
}
