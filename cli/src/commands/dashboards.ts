import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { withCatalogueTables } from '@sloth/core';
import { dashboardFiles } from '@sloth/grafana';

interface BuildFlags {
  out: string;
  docs: string;
  check: boolean;
}

/** Files that differ from what the code generates (missing, changed, or no longer generated). */
function differences(outDir: string, docsFile: string): string[] {
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

function build(flags: BuildFlags): void {
  const outDir = resolve(flags.out);
  const docsFile = resolve(flags.docs);
  if (flags.check) {
    const stale = differences(outDir, docsFile);
    if (stale.length > 0) {
      process.stderr.write(`sloth dashboards build --check: out of date (run \`sloth dashboards build\` and commit the result):\n${stale.map((p) => `  ${p}\n`).join('')}`);
      process.exitCode = 1;
      return;
    }
    process.stdout.write(`dashboards and ${flags.docs} are up to date\n`);
    return;
  }
  mkdirSync(outDir, { recursive: true });
  const files = dashboardFiles();
  for (const [name, text] of files) writeFileSync(join(outDir, name), text);
  // A dashboard removed from the code must not linger in the provisioned folder.
  for (const name of readdirSync(outDir)) if (name.endsWith('.json') && !files.has(name)) rmSync(join(outDir, name));
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
    .action((flags: BuildFlags) => build(flags));
}
