#!/usr/bin/env node
import { isSlothError, ConfigError } from '@sloth/core/errors';
import { prestart } from './prestart.js';

prestart(process.argv.slice(2));
// `sloth task list | head`: once the reader has gone, what is left to print is dropped quietly (EPIPE),
// as other command-line tools do, instead of a stack trace; other write errors still surface.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code !== 'EPIPE') throw error;
});
// Loaded after prestart, so a command's early work runs while the command tree loads.
const { buildProgram } = await import('./program.js');

/** An error from a system call (it has an errno code and the call's name), not a bug of Sloth's. */
function isSystemError(error: unknown): error is NodeJS.ErrnoException {
  return error instanceof Error && typeof (error as NodeJS.ErrnoException).code === 'string' && typeof (error as NodeJS.ErrnoException).syscall === 'string';
}

async function main(): Promise<void> {
  const program = buildProgram();
  try {
    await program.parseAsync(process.argv);
  } catch (error) {
    if (error instanceof ConfigError) {
      // Its message lists every problem with secrets hidden and URLs redacted (core/src/redact.ts).
      process.stderr.write(`sloth: ${error.message}\n`);
      process.exitCode = 2;
    } else if (isSlothError(error)) {
      process.stderr.write(`sloth: error [${error.code}]: ${error.message}\n`);
      process.exitCode = 1;
    } else if (isSystemError(error)) {
      // A file or network call the system refused (EISDIR, EACCES, ENOSPC…): its message names the
      // path or address; a stack trace would only hide that.
      process.stderr.write(`sloth: error: ${error.message}\n`);
      process.exitCode = 1;
    } else {
      process.stderr.write(`sloth: unexpected error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
      process.exitCode = 1;
    }
  }
}

await main();
