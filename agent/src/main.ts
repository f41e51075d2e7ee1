#!/usr/bin/env node
/**
 * `sloth-agent`: the agent alone, without the rest of the `sloth` CLI
 * (commander and the other commands' modules). Same flags as `sloth agent`.
 */
import { parseArgs } from 'node:util';
import { isSlothError, ConfigError, limitHeapGrowth, version } from '@sloth/core';
import { runAgent } from './run-agent.js';

const usage = `Usage: sloth-agent [--collector URL] [--token SECRET | --insecure-no-auth] [--interval SECONDS]
                   [--metrics-port PORT] [--label KEY=VALUE]... [--id ID] [--state-dir DIR]
                   [--config FILE] [--data-dir DIR] [--log-level LEVEL]
Runs the Sloth agent (the same as \`sloth agent\`; see \`sloth agent --help\`).`;

function numberOrRaw(text: string | undefined): number | string | undefined {
  if (text === undefined) return undefined;
  const n = Number(text);
  return text.trim() !== '' && Number.isFinite(n) ? n : text;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      collector: { type: 'string' },
      token: { type: 'string' },
      'insecure-no-auth': { type: 'boolean' },
      interval: { type: 'string' },
      'metrics-port': { type: 'string' },
      label: { type: 'string', multiple: true },
      id: { type: 'string' },
      'state-dir': { type: 'string' },
      config: { type: 'string', short: 'c' },
      'data-dir': { type: 'string' },
      'log-level': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
      version: { type: 'boolean', short: 'V' },
    },
    strict: true,
  });
  if (values.help === true) {
    process.stdout.write(`${usage}\n`);
    return;
  }
  if (values.version === true) {
    process.stdout.write(`${version}\n`);
    return;
  }
  limitHeapGrowth();
  await runAgent({
    collector: values.collector,
    token: values.token,
    insecureNoAuth: values['insecure-no-auth'],
    // Non-numbers reach the schema as strings, so the error names the key.
    interval: numberOrRaw(values.interval) as number | undefined,
    metricsPort: numberOrRaw(values['metrics-port']) as number | undefined,
    label: values.label,
    id: values.id,
    stateDir: values['state-dir'],
    config: values.config,
    dataDir: values['data-dir'],
    logLevel: values['log-level'],
  });
}

try {
  await main();
} catch (error) {
  if (error instanceof ConfigError) {
    process.stderr.write(`sloth-agent: ${error.message}\n`);
    process.exitCode = 2;
  } else if (isSlothError(error)) {
    process.stderr.write(`sloth-agent: error [${error.code}]: ${error.message}\n`);
    process.exitCode = 1;
  } else {
    process.stderr.write(`sloth-agent: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 1;
  }
}
