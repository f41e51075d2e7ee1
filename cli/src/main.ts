#!/usr/bin/env node
import { isSlothError, ConfigError } from '@sloth/core/errors';
import { prestart } from './prestart.js';

prestart(process.argv.slice(2));
// Loaded after prestart, so a command's early work runs while the command tree loads.
const { buildProgram } = await import('./program.js');

async function main(): Promise<void> {
  const program = buildProgram();
  try {
    await program.parseAsync(process.argv);
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`sloth: ${error.message}\n`);
      process.exitCode = 2;
    } else if (isSlothError(error)) {
      process.stderr.write(`sloth: error [${error.code}]: ${error.message}\n`);
      process.exitCode = 1;
    } else {
      process.stderr.write(`sloth: unexpected error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
      process.exitCode = 1;
    }
  }
}

await main();
