import type { Command } from 'commander';

/** Every sub-command registers itself here, one module per command. */
export const commands: Array<(program: Command) => void> = [];
