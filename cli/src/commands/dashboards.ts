import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { InputError } from '@sloth/core/errors';
import type { withCatalogueTables as WithCatalogueTables } from '@sloth/core';
import type { dashboardFiles as DashboardFiles } from '@sloth/grafana';
import { checkInputFile, makeOutputDirectory, maxWholeFileBytes } from '../input-files.js';

/** The dashboard builders and the metric catalogue, loaded when a dashboards command runs (not for every `sloth` start). */
async function generators(): Promise<{ dashboardFiles: typeof DashboardFiles; withCatalogueTables: typeof WithCatalogueTables }> {
  const [{ dashboardFiles }, { withCatalogueTables }] = await Promise.all([import('@sloth/grafana'), import('@sloth/core/metrics')]);
  return { dashboardFiles, withCatalogueTables };
}

interface BuildFlags {
  out: string;
  docs: string;
  check: boolean;
}

/** Files that differ from what the code generates (missing, changed, or no longer generated). */
function differences(outDir: string, docsFile: string, { dashboardFiles, withCatalogueTables }: Awaited<ReturnType<typeof generators>>): string[] {
  const stale: string[] = [];
  const files = dashboardFiles();
  for (const [name, text] of files) {
    const path = join(outDir, name);
    if (!existsSync(path) || readFileSync(path, 'utf8') !== text) stale.push(path);
  }
  if (existsSync(outDir)) for (const name of readdirSync(outDir)) if (name.endsWith('.json') && !files.has(name)) stale.push(join(outDir, name));
  if (!existsSync(docsFile)) stale.push(docsFile);
  else {
    const doc = readFileSync(docsFile, 'utf8');
    if (withCatalogueTables(doc) !== doc) stale.push(docsFile);
  }
  return stale;
}

async function build(flags: BuildFlags): Promise<void> {
  const outDir = resolve(flags.out);
  const docsFile = resolve(flags.docs);
  // The docs file is read whole (and rewritten): a FIFO would block, a device never end (session F).
  if (existsSync(docsFile)) checkInputFile(docsFile, '--docs', { maxBytes: maxWholeFileBytes });
  const code = await generators();
  const { dashboardFiles, withCatalogueTables } = code;
  if (flags.check) {
    const stale = differences(outDir, docsFile, code);
    if (stale.length > 0) {
      process.stderr.write(`sloth dashboards build --check: out of date (run \`sloth dashboards build\` and commit the result):\n${stale.map((p) => `  ${p}\n`).join('')}`);
      process.exitCode = 1;
      return;
    }
    process.stdout.write(`dashboards and ${flags.docs} are up to date\n`);
    return;
  }
  const failure = `cannot write dashboards to ${flags.out}`;
  makeOutputDirectory(outDir, failure);
  const files = dashboardFiles();
  try {
    for (const [name, text] of files) writeFileSync(join(outDir, name), text);
    // A dashboard removed from the code must not linger in the provisioned folder.
    for (const name of readdirSync(outDir)) if (name.endsWith('.json') && !files.has(name)) rmSync(join(outDir, name));
  } catch (error) {
    throw new InputError(`${failure}: ${(error as Error).message}`, { path: outDir });
  }
  if (existsSync(docsFile)) writeFileSync(docsFile, withCatalogueTables(readFileSync(docsFile, 'utf8')));
  else process.stderr.write(`sloth dashboards build: ${docsFile} does not exist; the metric tables were not written (pass --docs with the path of docs/metrics.md)\n`);
  process.stdout.write(`wrote ${files.size} dashboards to ${outDir}${existsSync(docsFile) ? ` and the metric tables of ${docsFile}` : ''}\n`);
}

/** `sloth dashboards build [--out DIR] [--docs FILE] [--check]`: Grafana dashboards as code → JSON. */
export function registerDashboards(program: Command): void {
  const dashboards = program.command('dashboards').description('Grafana dashboards generated from code (grafana/src) and the metric catalogue');
  dashboards
    .command('build')
    .description(
      'write every Sloth dashboard as Grafana JSON (one file per dashboard, named after its uid) and regenerate the metric tables of docs/metrics.md from the catalogue; with --check, change nothing and exit 1 when a committed file is out of date',
    )
    .option('--out <dir>', 'directory of the dashboard JSON files (provisioned by deploy/grafana/provisioning)', 'grafana/dashboards')
    .option('--docs <file>', 'the metrics document whose generated tables to rewrite', 'docs/metrics.md')
    .option('--check', 'compare instead of writing; exit 1 and list the files that differ', false)
    .action(async (flags: BuildFlags) => await build(flags));
}
