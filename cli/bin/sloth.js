#!/usr/bin/env node
// Entry point of the `sloth` command. The TypeScript sources are compiled by
// `npm install` (the root `prepare` script runs `tsc -b`).
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const main = fileURLToPath(new URL('../dist/src/main.js', import.meta.url));
if (!existsSync(main)) {
  process.stderr.write('sloth: the CLI is not built yet. Run `npm install` (or `npm run build`) in the Sloth checkout first.\n');
  process.exit(1);
}
await import(main);
