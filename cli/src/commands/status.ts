import { Option, type Command } from 'commander';
import { processEnv } from '@sloth/core/config';
import { defaultCollectorUrl } from '@sloth/core/client';
import { readLocalToken } from '../local-token.js';
import { defaultDataDir, localServiceUrl } from '../up-endpoints.js';
import { serviceUrlFlag } from '../urls.js';
import { intInRangeFlag, maxTimerMillis } from '../options.js';
import { fetchStatus, formatStatusTable } from '../status-table.js';

/** `sloth status [--collector URL] [--token SECRET] [--json]`: agents, up/down, last seen, key metrics. */
export function registerStatus(program: Command): void {
  program
    .command('status')
    .description('show the agents known to a collector: up/down, last seen, CPU, memory and load')
    .option('--collector <url>', 'collector base URL (default: the running `sloth up`\'s, else http://127.0.0.1:4318)', serviceUrlFlag('--collector'))
    .addOption(new Option('--token <secret>', 'bearer token for the collector API (default: the token `sloth up` keeps in <data-dir>/up-token)').env('SLOTH_TOKEN'))
    .option('--data-dir <dir>', 'where `sloth up` keeps its data, for its token', defaultDataDir())
    .option('--json', 'print JSON instead of a table', false)
    .addOption(new Option('--timeout <ms>', 'HTTP timeout in milliseconds').default(5000).argParser(intInRangeFlag('--timeout', 1, maxTimerMillis)))
    .action(async (flags: { collector?: string; token?: string; dataDir: string; json: boolean; timeout: number }) => {
      const token = flags.token ?? readLocalToken(flags.dataDir);
      const collectorUrl = localServiceUrl(flags.collector, flags.dataDir, 'collector', defaultCollectorUrl);
      const result = await fetchStatus({ collectorUrl, timeoutMillis: flags.timeout, ...(token === undefined ? {} : { token }) });
      if (!result.ok) {
        process.stderr.write(`sloth status: ${result.message}\n`);
        process.exitCode = result.reason === 'unauthorized' ? 3 : 1;
        return;
      }
      if (flags.json) {
        process.stdout.write(`${JSON.stringify({ agents: result.rows }, null, 2)}\n`);
        return;
      }
      process.stdout.write(formatStatusTable(result.rows, { nowMillis: Date.now(), color: process.stdout.isTTY && processEnv().NO_COLOR === undefined }));
    });
}
