/**
 * Incidents per host-hour on a recorded store, in seconds instead of a live run: reads every raw
 * series of a collector store (a `sloth up` or `sloth collector` data dir, e.g. one kept by
 * `idle.js --keep-data DIR`) with the collector's own store reader, and replays the samples, oldest
 * first, through the analytics service's own scoring path (its Scorer and detectors, built from the
 * analytics configuration as the live service builds them). Incidents opened after the warm-up are
 * counted per host-hour and listed, as idle.js lists them.
 *
 *   npx tsc -b && node dist/bench/live/recorded.js --data-dir DIR [--warmup-minutes 5] [--model on|off]
 *     [--set analyticsKey=JSON ...] [--compare idle.json]
 *
 * Each agent in the store is a host. Time runs on the samples: the start-up quiet and the warm-up
 * count from the store's first sample. `--model` defaults to the analytics setting `detectorModel` (off since
 * rule M; `--set detectorModel=true` or `--model on` turns it on). With the model, the replay trains each detector's model
 * in this process when it asks and installs it before the next sample (live, a worker installs it
 * seconds later). `--set` overrides an analytics setting (`--set anomalyThreshold=0.7`, values are
 * JSON, checked as the service checks its configuration). `--compare` takes an idle.js result and
 * says which of its incidents the replay opened too (same series, opened within a minute).
 *
 * `cpuBursts`: per CPU-utilization series of the store, its 1 s samples after the warm-up, their median
 * and p99 in points, and how many stand more than 5 points (the CPU change floor) above the median:
 * bursts of work on the host, Sloth's own model work among them (bench/live/README-rule.md, round 7).
 *
 * Not replayed: the role's shutdown, the timing of Redis reads, histograms (the collector derives
 * count and quantile series from them; the host metrics have none).
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import type { AnomalyEvent } from '@sloth/core';
import { analyticsConfigShape, loadAnalyticsConfig, trainModel, type AnalyticsConfig } from '@sloth/analytics';
import type * as StoreModule from '../../collector/src/store/sqlite-store.js';
import type * as ReplayModule from '../../analytics/src/service/recorded-replay.js';
import { percentile } from '../ingest/proc.js';
import { incidentSummary, openedAt, repoRoot } from './up-process.js';

const usage = 'usage: node dist/bench/live/recorded.js --data-dir DIR [--warmup-minutes 5] [--model on|off] [--set key=JSON ...] [--compare idle.json]';

/** A failure the user can fix: printed without a stack. */
class UsageError extends Error {}

function readArgs() {
  try {
    return parseArgs({
      options: {
        'data-dir': { type: 'string' },
        'warmup-minutes': { type: 'string', default: '5' },
        model: { type: 'string' },
        set: { type: 'string', multiple: true, default: [] },
        compare: { type: 'string' },
      },
    }).values;
  } catch (error) {
    throw new UsageError(`${(error as Error).message}\n${usage}`);
  }
}

function parse(): { dataDir: string; warmupMinutes: number; model: boolean | undefined; overrides: Record<string, unknown>; compare: string | undefined } {
  const values = readArgs();
  const dataDir = values['data-dir'];
  if (dataDir === undefined) throw new UsageError(`--data-dir is required\n${usage}`);
  const warmupMinutes = Number(values['warmup-minutes']);
  if (!(Number.isFinite(warmupMinutes) && warmupMinutes >= 0)) throw new UsageError(`--warmup-minutes must be a number ≥ 0, got ${JSON.stringify(values['warmup-minutes'])}`);
  if (values.model !== undefined && values.model !== 'on' && values.model !== 'off') throw new UsageError(`--model must be on or off, got ${JSON.stringify(values.model)}`);
  const overrides: Record<string, unknown> = {};
  for (const item of values.set) {
    const at = item.indexOf('=');
    if (at <= 0) throw new UsageError(`--set takes key=JSON (e.g. anomalyThreshold=0.7), got ${JSON.stringify(item)}`);
    const key = item.slice(0, at);
    // The configuration loader ignores flags it does not know, so a misspelt key would silently replay the defaults.
    if (!Object.hasOwn(analyticsConfigShape, key)) throw new UsageError(`--set ${key}: unknown analytics setting; expected one of ${Object.keys(analyticsConfigShape).join(', ')}`);
    try {
      overrides[key] = JSON.parse(item.slice(at + 1));
    } catch {
      throw new UsageError(`--set ${key}: the value must be JSON (a string needs quotes: ${key}='"text"'), got ${JSON.stringify(item.slice(at + 1))}`);
    }
  }
  return { dataDir, warmupMinutes, model: values.model === undefined ? undefined : values.model === 'on', overrides, compare: values.compare };
}

/** The collector's store and the analytics replay, from the built packages (they are not part of the packages' public exports). */
async function load(): Promise<{ store: typeof StoreModule; replay: typeof ReplayModule }> {
  const built = (path: string): string => pathToFileURL(join(repoRoot, path)).href;
  const paths = ['collector/dist/src/store/sqlite-store.js', 'analytics/dist/src/service/recorded-replay.js'];
  for (const path of paths) if (!existsSync(join(repoRoot, path))) throw new UsageError(`${path} is not built: run npx tsc -b at ${repoRoot}`);
  return { store: (await import(built(paths[0]!))) as typeof StoreModule, replay: (await import(built(paths[1]!))) as typeof ReplayModule };
}

function analyticsConfig(overrides: Record<string, unknown>): AnalyticsConfig {
  try {
    // The live defaults (what `sloth up` runs with), nothing read from the environment or a config file.
    return loadAnalyticsConfig({ env: {}, flags: { dataDir: '.', metricsPort: 0, logLevel: 'error', ...overrides } });
  } catch (error) {
    throw new UsageError(`--set: ${(error as Error).message}`);
  }
}

interface IdleResult {
  incidents?: Array<{ atMinute: number; seriesId: string; metric: string }>;
}

async function main(): Promise<void> {
  const args = parse();
  if (!isDirectory(args.dataDir)) throw new UsageError(`--data-dir ${args.dataDir}: no such directory (give the data dir of sloth up or sloth collector)`);
  if (!existsSync(join(args.dataDir, 'collector', 'sloth.db'))) throw new UsageError(`no collector store in ${args.dataDir}: expected ${join(args.dataDir, 'collector', 'sloth.db')} (the data dir of sloth up or sloth collector)`);
  const compare = args.compare === undefined ? undefined : readIdleResult(args.compare);
  const { store: storeModule, replay: replayModule } = await load();
  const config = analyticsConfig(args.overrides);
  const model = args.model ?? config.detectorModel;
  const wallStart = Date.now();
  const notAStore = (error: unknown): UsageError => new UsageError(`${join(args.dataDir, 'collector', 'sloth.db')} is not a readable collector store (${(error as Error).message})`);
  let store: ReturnType<typeof storeModule.SqliteStore.open>;
  try {
    store = storeModule.SqliteStore.open({ dataDir: args.dataDir, retentionMillis: Number.MAX_SAFE_INTEGER, readonly: true, pruneIntervalMillis: 0 });
  } catch (error) {
    throw notAStore(error);
  }
  type Sample = ReplayModule.RecordedSample;
  const samples: Sample[] = [];
  const skipped: Record<string, number> = {};
  const agents = new Set<string>();
  try {
    let series;
    try {
      series = store.listSeries({ limit: 1_000_000 });
    } catch (error) {
      throw notAStore(error);
    }
    for (const info of series) {
      if (info.kind !== 'gauge' && info.kind !== 'sum') {
        skipped[info.kind] = (skipped[info.kind] ?? 0) + 1;
        continue;
      }
      agents.add(info.agentId);
      // The collector publishes monotonic sums as counters; the store keeps no temporality, and the agent's are cumulative.
      const kind = info.kind === 'sum' && info.monotonic ? 'cumulative' : 'gauge';
      for (const point of store.samples({ seriesKey: info.key, fromMillis: 0, toMillis: Number.MAX_SAFE_INTEGER, limit: Number.MAX_SAFE_INTEGER }) ?? []) {
        if (point.v === null || !Number.isFinite(point.v)) continue;
        samples.push({ seriesId: info.key, metric: info.name, labels: info.labels, agentId: info.agentId, timestampMillis: point.t, value: point.v, kind });
      }
    }
  } finally {
    store.close();
  }
  if (samples.length === 0) throw new UsageError(`the store in ${args.dataDir} holds no gauge or sum samples`);
  const readMillis = Date.now() - wallStart;
  samples.sort((a, b) => a.timestampMillis - b.timestampMillis);
  const firstMillis = samples[0]!.timestampMillis;
  const lastMillis = samples[samples.length - 1]!.timestampMillis;
  const countedFrom = firstMillis + args.warmupMinutes * 60_000;
  if (countedFrom >= lastMillis) throw new UsageError(`--warmup-minutes ${args.warmupMinutes} leaves nothing to count: the store spans ${((lastMillis - firstMillis) / 60_000).toFixed(1)} minutes`);

  const replay = new replayModule.RecordedReplay(config, {
    detectorOptions: { useModel: model },
    startedMillis: firstMillis,
    train: model ? trainModel : undefined,
  });
  const events: AnomalyEvent[] = [];
  const scoreStart = Date.now();
  for (const sample of samples) {
    const event = await replay.push(sample);
    if (event !== undefined) events.push(event);
  }
  const scoreMillis = Date.now() - scoreStart;
  const opens = events.filter((e) => e.state === 'open');
  const summary = incidentSummary(events, { startMillis: firstMillis, countedFromMillis: countedFrom, hostHours: (agents.size * (lastMillis - countedFrom)) / 3_600_000 });
  const atMinute = (millis: number): number => Number(((millis - firstMillis) / 60_000).toFixed(1));
  console.log(
    JSON.stringify(
      {
        dataDir: args.dataDir,
        hosts: agents.size,
        minutes: Number(((lastMillis - firstMillis) / 60_000).toFixed(1)),
        warmupMinutes: args.warmupMinutes,
        model: model ? 'on' : 'off',
        settings: Object.keys(args.overrides).length === 0 ? 'live defaults' : args.overrides,
        samples: samples.length,
        samplesScored: replay.metrics.samplesScored,
        samplesExcluded: replay.metrics.samplesExcluded,
        seriesSkipped: skipped,
        modelsTrained: replay.modelsTrained,
        readSeconds: readMillis / 1000,
        scoreSeconds: scoreMillis / 1000,
        ...summary,
        cpuBursts: cpuBursts(samples, countedFrom),
        // Every incident of the run (warm-up too): how long it stayed open and how many transitions it made.
        lifetimes: opens.map((open) => {
          const own = events.filter((e) => e.incidentId === open.incidentId);
          const last = own[own.length - 1]!;
          return {
            atMinute: atMinute(openedAt(open)),
            seriesId: open.seriesId,
            direction: open.direction,
            cause: open.cause,
            score: Number(open.score.toFixed(3)),
            value: open.value,
            expected: [open.expectedLow, open.expectedHigh],
            transitions: own.length,
            ...(last.state === 'resolved' ? { resolvedAtMinute: atMinute(last.timestampMillis) } : { stillOpenAtMinute: atMinute(lastMillis) }),
          };
        }),
        ...(compare === undefined ? {} : { comparedWith: compareWith(compare, summary.incidents) }),
      },
      null,
      2,
    ),
  );
}

/** Utilization samples (fractions) of each CPU series from `fromMillis` on, in points: median, p99 and samples above the median by more than 5 points. */
function cpuBursts(samples: ReadonlyArray<{ seriesId: string; metric: string; timestampMillis: number; value: number }>, fromMillis: number): Array<{ seriesId: string; samples: number; median: number; p99: number; aboveMedianBy5: number }> {
  const bySeries = new Map<string, number[]>();
  for (const sample of samples) {
    if (!sample.metric.endsWith('cpu.utilization') || sample.timestampMillis < fromMillis) continue;
    const points = bySeries.get(sample.seriesId) ?? [];
    points.push(100 * sample.value);
    bySeries.set(sample.seriesId, points);
  }
  return [...bySeries].map(([seriesId, points]) => {
    const sorted = [...points].sort((a, b) => a - b);
    const median = percentile(sorted, 50);
    return { seriesId, samples: sorted.length, median: Number(median.toFixed(2)), p99: Number(percentile(sorted, 99).toFixed(2)), aboveMedianBy5: sorted.filter((p) => p - median > 5).length };
  });
}

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

function readIdleResult(path: string): IdleResult {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new UsageError(`--compare ${path}: cannot read it as JSON (${(error as Error).message})`);
  }
  const incidents = (parsed as IdleResult | null)?.incidents;
  if (!Array.isArray(incidents) || !incidents.every((i) => typeof i?.seriesId === 'string' && typeof i.atMinute === 'number')) {
    throw new UsageError(`--compare ${path}: expected an idle.js result with incidents [{ atMinute, seriesId, … }]`);
  }
  return { incidents };
}

/** Live incidents (idle.js) the replay opened too: same series, opened within a minute (minutes from each run's start). */
function compareWith(live: IdleResult, replayed: ReadonlyArray<{ seriesId: string; atMinute: number }>): unknown {
  const liveIncidents = live.incidents ?? [];
  const matched = (a: { seriesId: string; atMinute: number }, b: { seriesId: string; atMinute: number }): boolean => a.seriesId === b.seriesId && Math.abs(a.atMinute - b.atMinute) <= 1;
  return {
    live: liveIncidents.length,
    alsoReplayed: liveIncidents.filter((l) => replayed.some((r) => matched(l, r))).length,
    liveOnly: liveIncidents.filter((l) => !replayed.some((r) => matched(l, r))).map((l) => `${l.atMinute} ${l.seriesId}`),
    replayOnly: replayed.filter((r) => !liveIncidents.some((l) => matched(l, r))).map((r) => `${r.atMinute} ${r.seriesId}`),
  };
}

try {
  await main();
} catch (error) {
  if (error instanceof UsageError) {
    console.error(`recorded: ${error.message}`);
    process.exitCode = 2;
  } else throw error;
}
