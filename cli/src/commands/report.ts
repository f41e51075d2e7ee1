import { writeFile } from 'node:fs/promises';
import { Option, type Command } from 'commander';
import { QueryClient, defaultCollectorUrl } from '@sloth/core/client';
import { InputError, isSlothError } from '@sloth/core/errors';
import { readRegularFile } from '@sloth/core/regular-file';
import { maxTokenFileBytes } from '@sloth/core/tokens';
import type { PaperSize, ReportFormat } from '@sloth/report';
import { checkOutputFile } from '../input-files.js';
import { loadCliProgress, showsProgress } from '../progress.js';
import { readLocalToken } from '../local-token.js';
import { defaultAlertsUrl, defaultDataDir, readUpEndpoints, type UpEndpoints } from '../up-endpoints.js';
import { intInRangeFlag, maxTimerMillis } from '../options.js';
import { serviceUrlFlag } from '../urls.js';

// @sloth/report (PDF and chart rendering) loads only when a report is made; the choices are
// checked against its types at compile time, both ways, so they cannot drift.
const reportFormats = ['pdf', 'json', 'md', 'csv'] as const satisfies readonly ReportFormat[];
const paperSizes = ['A4', 'Letter'] as const satisfies readonly PaperSize[];
type ListsEvery<All, Listed> = [Exclude<All, Listed>] extends [never] ? true : false;
const everyChoiceListed: [ListsEvery<ReportFormat, (typeof reportFormats)[number]>, ListsEvery<PaperSize, (typeof paperSizes)[number]>] = [true, true];
void everyChoiceListed;

interface ReportFlags {
  pdf?: boolean;
  format?: ReportFormat;
  output?: string;
  since: string;
  until?: string;
  timezone: string;
  paper: PaperSize;
  collector: string;
  token?: string;
  tokenFile?: string;
  dataDir: string;
  scheduler?: string;
  schedulerToken?: string;
  alertsUrl: string;
  alertsToken?: string;
  redisUrl?: string;
  redisPrefix?: string;
  timeout: number;
  progress: boolean;
}


const durationUnits: Readonly<Record<string, number>> = { m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

/** `7d`, `24h`, `2w`, `90m`. */
export function parseSince(text: string): number {
  const match = /^(\d+)(m|h|d|w)$/.exec(text.trim());
  const millis = match === null ? NaN : Number(match[1]) * (durationUnits[match[2] as string] ?? NaN);
  if (!Number.isFinite(millis) || millis < 3_600_000 || millis > 92 * 86_400_000) {
    throw new Error(`--since ${JSON.stringify(text)} is not a duration between 1h and 92d: use e.g. 7d, 24h, 2w`);
  }
  return millis;
}

function parseUntil(text: string): number {
  const millis = /^\d+$/.test(text) ? Number(text) : Date.parse(text);
  if (!Number.isFinite(millis)) throw new Error(`--until ${JSON.stringify(text)} is not a time: use ISO 8601 (2026-01-05T00:00:00Z) or milliseconds since the epoch`);
  return millis;
}

/** The token from --token, SLOTH_TOKEN, --token-file or `sloth up`'s local token, in that order. Never printed. */
function resolveToken(flags: ReportFlags): string | undefined {
  if (flags.token !== undefined) return flags.token;
  if (flags.tokenFile !== undefined) {
    // A FIFO would block for ever; a huge file gets its size named instead of an engine error.
    const read = readRegularFile(flags.tokenFile, { maxBytes: maxTokenFileBytes });
    if (!read.ok) throw new InputError(`--token-file ${flags.tokenFile} ${read.problem}`, { path: flags.tokenFile });
    const text = read.bytes.toString('utf8');
    const token = text.trim();
    if (token === '') throw new Error(`--token-file ${JSON.stringify(flags.tokenFile)} is empty`);
    return token;
  }
  return readLocalToken(flags.dataDir);
}

/** The running `sloth up`'s endpoints, read only when the report is about its collector (no --collector given). */
function readLocalEndpoints(flags: ReportFlags, command: Command): UpEndpoints | undefined {
  return command.getOptionValueSource('collector') === 'default' ? readUpEndpoints(flags.dataDir) : undefined;
}

/**
 * Fills the sources nobody gave from the running `sloth up` in --data-dir, so `sloth report --pdf` in
 * its directory reads every section without flags; what the user gave always wins.
 */
export function withUpEndpoints(flags: ReportFlags, command: Pick<Command, 'getOptionValueSource'>, local: UpEndpoints | undefined): ReportFlags {
  if (local === undefined) return flags;
  const unset = (name: string): boolean => command.getOptionValueSource(name) === 'default' || command.getOptionValueSource(name) === undefined;
  return {
    ...flags,
    collector: local.collector,
    ...(flags.scheduler === undefined ? { scheduler: local.scheduler } : {}),
    ...(unset('alertsUrl') && local.alerts !== undefined ? { alertsUrl: local.alerts } : {}),
    ...(flags.redisUrl === undefined ? { redisUrl: local.redisUrl, ...(unset('redisPrefix') ? { redisPrefix: local.redisPrefix } : {}) } : {}),
  };
}

/**
 * `sloth report --pdf [--output FILE] [--since DURATION] [--collector URL] [--token SECRET]`
 * (and `--format json|md|csv`): the weekly fleet report, read through the collector's query API.
 */
export function registerReport(program: Command): void {
  program
    .command('report')
    .description(
      'write the fleet report for a period (default the last 7 days, ending at the newest data): cover, summary against the previous period, ' +
        'charts per agent with forecast bands, capacity ("disk full in N days") and scaling decisions, remediation log, tasks, incidents, alert history and noise, ' +
        'forecast scorecard. Reads the collector query API; remediations and scaling decisions from --scheduler, alerts from --alerts-url, incidents from --redis-url.',
    )
    .option('--pdf', 'write a PDF (same as --format pdf)')
    .addOption(new Option('--format <format>', 'output format: pdf (the default), json (the report model), md or csv').choices([...reportFormats]))
    .option('-o, --output <file>', 'where to write the report (default: report.pdf for PDF, standard output otherwise)')
    .option('--since <duration>', 'length of the period, e.g. 7d, 24h, 2w (the previous period of the same length is the comparison)', '7d')
    .option('--until <time>', 'end of the period, ISO 8601 or epoch milliseconds (default: the newest key-metric point, so the same data gives the same report)')
    .option('--timezone <tz>', 'IANA time zone for dates and chart axes', 'UTC')
    .addOption(new Option('--paper <size>', 'PDF paper size').choices([...paperSizes]).default('A4'))
    .option('--collector <url>', 'collector base URL', serviceUrlFlag('--collector'), defaultCollectorUrl)
    .addOption(new Option('--token <secret>', 'bearer token for the collector API (default: --token-file, else the token `sloth up` keeps in <data-dir>/up-token)').env('SLOTH_TOKEN'))
    .option('--token-file <file>', 'read the bearer token from this file (keeps it out of the process list)')
    .option('--data-dir <dir>', 'where `sloth up` keeps its data: its token and, while it runs, where its collector, scheduler, alerts and Redis answer (used for every source not given here when --collector is not given)', defaultDataDir())
    .option('--scheduler <url>', 'scheduler API base URL, for the remediation log, tasks and scaling decisions (e.g. http://127.0.0.1:8080; default: the running `sloth up`\'s); without it those sections say "not available"', serviceUrlFlag('--scheduler'))
    .option('--scheduler-token <secret>', 'bearer token for the scheduler API (default: the collector token)')
    .option('--alerts-url <url>', 'alerts API base URL, for the alert history and noise (default: where `sloth up` and `sloth alerts` serve it); unreachable, the section says why', serviceUrlFlag('--alerts-url'), defaultAlertsUrl)
    .addOption(new Option('--alerts-token <secret>', 'bearer token for the alerts API (default: the collector token)').env('SLOTH_ALERTS_TOKEN'))
    .option('--redis-url <url>', 'Redis where analytics publishes incidents (<prefix>:anomalies; default: the running `sloth up`\'s); without it incidents are "not available"')
    .option('--redis-prefix <prefix>', 'Redis key prefix of that deployment', 'sloth')
    .addOption(
      new Option('--timeout <ms>', 'HTTP timeout per request in milliseconds').default(30_000).argParser(intInRangeFlag('--timeout', 1, maxTimerMillis)),
    )
    .option('--no-progress', 'no progress bar (it is shown only when standard error is a terminal)')
    .addHelpText(
      'after',
      '\nExamples:\n  sloth report --pdf --since 7d --output weekly.pdf --collector http://127.0.0.1:4318 --token-file ~/.sloth-token\n  sloth report --format md --timezone Europe/Paris > report.md\n\nExit codes: 0 written, 1 collector unreachable or failing, 2 bad flags, 3 token missing or rejected.',
    )
    .action(async (given: ReportFlags, command: Command) => {
      const format: ReportFormat = given.format ?? 'pdf';
      let flags: ReportFlags;
      try {
        flags = withUpEndpoints(given, command, readLocalEndpoints(given, command));
      } catch (error) {
        process.stderr.write(`sloth report: ${(error as Error).message}\n`);
        process.exitCode = 2;
        return;
      }
      if (flags.pdf === true && flags.format !== undefined && flags.format !== 'pdf') {
        process.stderr.write(`sloth report: --pdf and --format ${flags.format} contradict each other: pick one\n`);
        process.exitCode = 2;
        return;
      }
      let periodMillis: number;
      let untilMillis: number | undefined;
      let token: string | undefined;
      let client: QueryClient;
      try {
        periodMillis = parseSince(flags.since);
        untilMillis = flags.until === undefined ? undefined : parseUntil(flags.until);
        token = resolveToken(flags);
        client = new QueryClient({ baseUrl: flags.collector, timeoutMillis: flags.timeout, ...(token === undefined ? {} : { token }) });
        // The report is written after every section is read and rendered: a bad --output fails now.
        if (flags.output !== undefined || format === 'pdf') checkOutputFile(flags.output ?? 'report.pdf', '--output');
      } catch (error) {
        process.stderr.write(`sloth report: ${(error as Error).message}\n`);
        process.exitCode = 2;
        return;
      }
      const output = flags.output ?? (format === 'pdf' ? 'report.pdf' : undefined);
      const cliProgress = showsProgress(flags.progress) ? loadCliProgress() : undefined;
      const bar = cliProgress !== undefined ? new cliProgress.SingleBar({ format: 'sloth report {phase} [{bar}] {value}/{total}', hideCursor: true, clearOnComplete: true }, cliProgress.Presets.shades_classic) : undefined;
      let phase = '';
      const schedulerToken = flags.schedulerToken ?? token;
      const alertsToken = flags.alertsToken ?? token;
      try {
        const { generateReport } = await import('@sloth/report');
        const report = await generateReport({
          client,
          format,
          periodMillis,
          timezone: flags.timezone,
          paper: flags.paper,
          ...(untilMillis === undefined ? {} : { untilMillis }),
          ...(flags.scheduler === undefined ? {} : { scheduler: { url: flags.scheduler, timeoutMillis: flags.timeout, ...(schedulerToken === undefined ? {} : { token: schedulerToken }) } }),
          alerts: { url: flags.alertsUrl, timeoutMillis: flags.timeout, ...(alertsToken === undefined ? {} : { token: alertsToken }) },
          ...(flags.redisUrl === undefined ? {} : { redis: { url: flags.redisUrl, ...(flags.redisPrefix === undefined ? {} : { prefix: flags.redisPrefix }) } }),
          onProgress: (next, done, total) => {
            if (bar === undefined) return;
            if (next !== phase) {
              if (phase !== '') bar.stop();
              phase = next;
              bar.start(total, done, { phase: next === 'collect' ? 'reading' : 'rendering' });
            } else {
              bar.setTotal(total);
              bar.update(done);
            }
          },
        });
        bar?.stop();
        if (output === undefined) process.stdout.write(report.output);
        else {
          await writeFile(output, report.output);
          const pages = format === 'pdf' ? ` (${report.model.empty ? 'no data in the period' : `${report.model.summary.agentCount} agents`})` : '';
          process.stderr.write(`sloth report: wrote ${output}${pages}\n`);
        }
      } catch (error) {
        bar?.stop();
        const code = isSlothError(error) ? error.code : undefined;
        process.stderr.write(`sloth report: ${(error as Error).message}\n`);
        process.exitCode = code === 'SLOTH_ERR_AUTH' ? 3 : error instanceof RangeError ? 2 : 1;
      }
    });
}
