import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { InputError, SlothError } from '@sloth/core';
import { defaultDetectorOptions } from '../detector/series-detector.js';
import { tuning } from '../detector/tuning.js';
import { scoreNabProfile } from './corpus-score.js';
import { listCsvFiles, readNabWindows } from './corpus-files.js';
import { leaveOneCategoryOut, scoreChosenPerFold, type CategoryFold, type CvCandidate, type CvResult } from './cross-validation.js';
import { NestedJobRunner, readNabSeries, type NestedJob, type NestedJobResult, type NestedWorkerReply, type NestedWorkerRequest } from './nested-jobs.js';
import { nabProfiles, type NabProfile } from './profiles.js';
import type { NabFile } from './sweep.js';

/** Tuning overrides of one configuration (constant → value). */
export type Overrides = Readonly<Record<string, number>>;

/** One coordinate of the nested search: a constant (or a coupled pair) and its grid, start value first. */
export interface NestedCoordinate {
  name: string;
  /** Every value sets the same keys, so the current configuration is always one of them. */
  values: readonly Overrides[];
  /** Only meaningful with the model (skipped on the statistics-only path). */
  modelOnly?: boolean;
}

/**
 * The grid of the nested search (bench/detector/nested-cv-rule.md, written before the first run):
 * the constants marked "searched" or "fold" in docs/anomaly-detection.md. Each grid starts at its
 * a-priori (principled) value, then the value searched earlier on all four categories, then a
 * neighbour beyond it. The search starts from the first value of every grid.
 */
export function nestedGrid(withModel: boolean, jointGates = false): NestedCoordinate[] {
  const grid: NestedCoordinate[] = [
    { name: 'gates', values: [{ gates: 1 }, { gates: 0 }] },
    { name: 'logRaw', values: [{ logRaw: 0 }, { logRaw: 1 }] },
    { name: 'suppressRows', values: [{ suppressRows: 300 }, { suppressRows: 150 }] },
    { name: 'shortRows', values: [{ shortRows: 10 }, { shortRows: 6 }, { shortRows: 4 }] },
    { name: 'longRate', values: [{ longRate: 1 / 8640 }, { longRate: 0.0015 }, { longRate: 0.005 }] },
    { name: 'fireSurprise', values: [{ fireSurprise: Math.log(1e5) }, { fireSurprise: 11 }, { fireSurprise: 9 }] },
    { name: 'suppressFactor', values: [{ suppressFactor: 0 }, { suppressFactor: 0.1 }, { suppressFactor: 0.2 }] },
    { name: 'spatialMargin', values: [{ spatialMargin: 0.05 }, { spatialMargin: 0.02 }, { spatialMargin: 0.01 }] },
    { name: 'errorScaleRate', values: [{ errorScaleRate: 1 / 8640 }, { errorScaleRate: 0.0002 }, { errorScaleRate: 0.0005 }] },
    {
      // A level at a fixed rate (the self-learned level off, whatever the default): run 1 of the rule.
      name: 'level',
      values: [
        { levelLearn: 0, levelDays: 1, levelRate: 0.03 },
        { levelLearn: 0, levelDays: 0, levelRate: 0.03 },
        { levelLearn: 0, levelDays: 0, levelRate: 0.1 },
      ],
    },
    {
      name: 'rarity',
      values: [
        { rarityShare: 0.02, rarityCount: 20 },
        { rarityShare: 0, rarityCount: 20 },
        { rarityShare: 0, rarityCount: 50 },
      ],
    },
    { name: 'rarityDamp', values: [{ rarityDamp: 0.5 }, { rarityDamp: 0.25 }, { rarityDamp: 0.75 }] },
    { name: 'modelWeight', values: [{ modelWeight: 1 }, { modelWeight: 0.25 }, { modelWeight: 0.1 }], modelOnly: true },
    { name: 'modelGateZ', values: [{ modelGateZ: 1 }, { modelGateZ: 1.5 }, { modelGateZ: 2 }], modelOnly: true },
    { name: 'modelGateDamp', values: [{ modelGateDamp: 0.5 }, { modelGateDamp: 0.3 }, { modelGateDamp: 0.1 }], modelOnly: true },
  ];
  const own = grid.filter((c) => withModel || c.modelOnly !== true);
  return jointGates ? joinGates(own) : own;
}

/** The coordinates that act only through the gates (run 3 of the rule): searched jointly with `gates`. */
const gateCoordinates: readonly string[] = ['gates', 'rarity', 'rarityDamp', 'modelGateZ', 'modelGateDamp'];

/**
 * Merges the gate coordinates into one, placed first: every combination of their grids with gates
 * on, and one configuration (the first values) with gates off, where the others do nothing.
 */
export function joinGates(grid: readonly NestedCoordinate[]): NestedCoordinate[] {
  const parts = grid.filter((c) => gateCoordinates.includes(c.name) && c.name !== 'gates');
  const rest = grid.filter((c) => !gateCoordinates.includes(c.name));
  let on: Overrides[] = [{ gates: 1 }];
  for (const c of parts) on = on.flatMap((o) => c.values.map((v) => ({ ...o, ...v })));
  const off: Overrides = { ...(on[0] as Overrides), gates: 0 };
  return [{ name: 'gateBlock', values: [...on, off] }, ...rest];
}

/** The configuration the search starts from: the first value of every coordinate. */
export function startConfig(grid: readonly NestedCoordinate[]): Overrides {
  return Object.assign({}, ...grid.map((c) => c.values[0] ?? {})) as Overrides;
}

/** A stable key of a configuration (sorted keys). */
export function configKey(config: Overrides): string {
  return JSON.stringify(Object.keys(config).sort().map((k) => [k, config[k]]));
}

/**
 * Scores configurations on the named files: for each configuration, the files in `names` order. The
 * search passes a fold's training files only.
 */
export type NestedEvaluator = (configs: readonly Overrides[], names: readonly string[]) => Promise<NabFile[][]>;

/** One step of a fold's search: the value a coordinate took and the training score it gave. */
export interface SearchStep {
  pass: number;
  coordinate: string;
  value: Overrides;
  trainScore: number;
  /** Training score of every value of the coordinate, in grid order. */
  scores: number[];
}

/** What the search chose for one fold, on its training categories alone. */
export interface FoldSearch {
  category: string;
  chosen: Overrides;
  /** Standard NAB score (sweep on the training files) of the chosen configuration. */
  trainScore: number;
  steps: SearchStep[];
  /** Configurations scored in this fold's search. */
  evaluated: number;
}

/**
 * Coordinate search per fold, on the fold's training categories only: from {@link startConfig}, each
 * coordinate in grid order takes the value with the best standard-profile NAB score (NAB's threshold
 * sweep on the training files); the current value is kept unless another scores strictly higher
 * (equal higher scores: the first in grid order). Up to `passes` passes; a fold stops after a pass
 * that changed nothing. Folds advance together so their evaluations can share a pool.
 */
export async function searchNested(folds: readonly CategoryFold[], grid: readonly NestedCoordinate[], evaluate: NestedEvaluator, passes = 2): Promise<FoldSearch[]> {
  const standard = nabProfiles[0] as NabProfile;
  const state = folds.map((fold) => ({ fold, current: startConfig(grid), known: new Map<string, number>(), steps: [] as SearchStep[], active: true, changed: false }));
  for (let pass = 0; pass < passes; pass += 1) {
    for (const s of state) s.changed = false;
    for (const coordinate of grid) {
      await Promise.all(
        state.map(async (s) => {
          if (!s.active) return;
          const candidates = coordinate.values.map((v) => ({ ...s.current, ...v }));
          const missing = candidates.filter((c, i) => !s.known.has(configKey(c)) && candidates.findIndex((d) => configKey(d) === configKey(c)) === i);
          if (missing.length > 0) {
            const outputs = await evaluate(missing, s.fold.train);
            missing.forEach((c, i) => s.known.set(configKey(c), scoreNabProfile(outputs[i] as NabFile[], standard).normalizedScore));
          }
          const scores = candidates.map((c) => s.known.get(configKey(c)) as number);
          const currentKey = configKey(s.current);
          let best = candidates.findIndex((c) => configKey(c) === currentKey);
          if (best < 0) throw new InputError(`coordinate ${coordinate.name}: the current configuration is not on its grid`);
          scores.forEach((score, i) => {
            if (score > (scores[best] as number)) best = i;
          });
          const chosen = candidates[best] as Overrides;
          if (configKey(chosen) !== currentKey) s.changed = true;
          s.current = chosen;
          s.steps.push({ pass, coordinate: coordinate.name, value: coordinate.values[best] as Overrides, trainScore: scores[best] as number, scores });
        }),
      );
    }
    for (const s of state) if (!s.changed) s.active = false;
    if (state.every((s) => !s.active)) break;
  }
  return state.map((s) => ({ category: s.fold.category, chosen: s.current, trainScore: s.known.get(configKey(s.current)) as number, steps: s.steps, evaluated: s.known.size }));
}

/** A pool of nested-CV worker threads (in this thread when the compiled worker is absent, as in tests). */
class NestedPool {
  private readonly workers: Worker[] = [];
  private readonly idle: Worker[] = [];
  private readonly queue: Array<{ request: NestedWorkerRequest; resolve: (r: NestedJobResult) => void; reject: (e: Error) => void }> = [];
  private readonly pending = new Map<number, { resolve: (r: NestedJobResult) => void; reject: (e: Error) => void }>();
  private readonly local: NestedJobRunner | null;
  private nextId = 0;
  /** Set when a worker thread died: every job then fails with it (none would ever run). */
  private failure: Error | null = null;

  constructor(concurrency: number) {
    const url = new URL('./nested-worker.js', import.meta.url);
    if (concurrency <= 1 || !existsSync(fileURLToPath(url))) {
      this.local = new NestedJobRunner();
      return;
    }
    this.local = null;
    for (let i = 0; i < concurrency; i += 1) {
      const worker = new Worker(url);
      worker.on('message', (reply: NestedWorkerReply) => {
        const p = this.pending.get(reply.id);
        this.pending.delete(reply.id);
        if (p !== undefined) {
          if (reply.ok) p.resolve(reply.result);
          else p.reject(new SlothError('SLOTH_ERR_INPUT', reply.message));
        }
        this.idle.push(worker);
        this.dispatch();
      });
      worker.on('error', (error) => {
        this.failure = error;
        for (const p of this.pending.values()) p.reject(error);
        for (const q of this.queue) q.reject(error);
        this.pending.clear();
        this.queue.length = 0;
      });
      this.workers.push(worker);
      this.idle.push(worker);
    }
  }

  run(job: NestedJob): Promise<NestedJobResult> {
    if (this.local !== null) return this.local.run(job);
    if (this.failure !== null) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      this.queue.push({ request: { id: this.nextId++, job }, resolve, reject });
      this.dispatch();
    });
  }

  private dispatch(): void {
    while (this.idle.length > 0 && this.queue.length > 0) {
      const worker = this.idle.pop() as Worker;
      const item = this.queue.shift() as (typeof this.queue)[number];
      this.pending.set(item.request.id, { resolve: item.resolve, reject: item.reject });
      worker.postMessage(item.request);
    }
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}

/** Options of {@link runNestedNabCrossValidation}. */
export interface NestedCvOptions {
  dataDir: string;
  labelsPath: string;
  /** Model traces go to `outDir/nested/traces/` (reused while their settings match). */
  outDir: string;
  /** Search the model path too (needs one model run per file for its trace). */
  withModel: boolean;
  /** @defaultValue 2 */
  passes?: number;
  /** Worker threads. @defaultValue available cores */
  concurrency?: number;
  /** A grid other than {@link nestedGrid} (tests). */
  grid?: (withModel: boolean) => NestedCoordinate[];
  /** Search the gate constants jointly with `gates` ({@link joinGates}). */
  jointGates?: boolean;
  /** Coordinates left out of the grid (at their product value, or as set in `base`). */
  drop?: readonly string[];
  /** Constants set for every configuration (JSON, as `SLOTH_DETECTOR_TUNING`), under the searched ones. */
  base?: string;
  onProgress?: (message: string) => void;
}

/** One path's nested result: the folds' searches and their out-of-fold scores. */
export interface NestedPathReport {
  searches: FoldSearch[];
  cv: CvResult;
}

/** Nested out-of-fold NAB figures: statistics-only, model (when searched) and per fold the better on training ("full"). */
export interface NestedCvReport {
  statsOnly: NestedPathReport;
  model: NestedPathReport | null;
  full: CvResult;
  /** Per fold, which path "full" took. */
  fullPaths: string[];
  /** Configurations scored (each over every file) and seconds, per phase. */
  evaluations: number;
  traceSeconds: number;
  searchSeconds: number;
}

/** A configuration's short name for reports: its values, by coordinate. */
export function describeConfig(config: Overrides): string {
  return Object.keys(config)
    .sort()
    .map((k) => `${k}=${Number((config[k] as number).toPrecision(4))}`)
    .join(' ');
}

/** The corpus, its model traces and the evaluators, shared by the nested run and the all-category search. */
interface NestedCorpus {
  names: string[];
  folds: CategoryFold[];
  traceSeconds: number;
  makeEvaluator: (useModel: boolean) => NestedEvaluator;
  gridOf: (withModel: boolean) => NestedCoordinate[];
  /** Configurations scored over every file so far. */
  evaluations: () => number;
  progress: (message: string) => void;
}

/**
 * Reads the corpus, records the model traces (when `withModel`) and builds the evaluators, then runs
 * `body`; the worker pool is closed afterwards.
 */
async function withNestedCorpus<T>(options: NestedCvOptions, body: (corpus: NestedCorpus) => Promise<T>): Promise<T> {
  if (!existsSync(options.dataDir)) throw new InputError(`data directory ${options.dataDir} does not exist`);
  const windows = await readNabWindows(options.labelsPath);
  const names = (await listCsvFiles(options.dataDir)).filter((n) => windows.has(n));
  if (names.length === 0) throw new InputError(`${options.labelsPath} labels none of the .csv files under ${options.dataDir}`);
  const folds = leaveOneCategoryOut(names);
  const fullGrid = options.grid ?? ((withModel: boolean): NestedCoordinate[] => nestedGrid(withModel, options.jointGates === true));
  const known = new Set([...fullGrid(true), ...fullGrid(false)].map((c) => c.name));
  const unknown = (options.drop ?? []).filter((d) => !known.has(d));
  if (unknown.length > 0) throw new InputError(`unknown coordinate(s) to drop: ${unknown.join(', ')} (known: ${[...known].join(', ')})`);
  const gridOf = (withModel: boolean): NestedCoordinate[] => fullGrid(withModel).filter((c) => !(options.drop ?? []).includes(c.name));
  let base: Overrides = {};
  if (options.base !== undefined && options.base !== '') {
    try {
      base = JSON.parse(options.base) as Overrides;
    } catch (error) {
      throw new InputError(`SLOTH_DETECTOR_TUNING is not JSON: ${(error as Error).message}`);
    }
  }
  // The model traces are recorded with the product's history and interval settings.
  for (const k of ['historyRows', 'intervalProbeRows']) if (k in base) throw new InputError(`--nested cannot set ${k}: the recorded model forecasts depend on it`);
  const timestamps = new Map<string, number[]>();
  for (const name of names) timestamps.set(name, (await readNabSeries(join(options.dataDir, name))).map((r) => r.timestampMillis));
  const concurrency = Math.max(1, options.concurrency ?? availableParallelism());
  const pool = new NestedPool(concurrency);
  const progress = options.onProgress ?? ((): void => undefined);
  const traceDir = join(options.outDir, 'nested', 'traces');
  const tracePath = (name: string): string => join(traceDir, `${name}.trace`);
  let evaluations = 0;
  try {
    // 1. Model traces, once per file (the expensive part), reused while the settings match.
    const traceStart = Date.now();
    if (options.withModel) {
      const settings = JSON.stringify({ options: defaultDetectorOptions, historyRows: tuning.historyRows, intervalProbeRows: tuning.intervalProbeRows, dataDir: options.dataDir });
      const marker = join(traceDir, 'settings.json');
      const same = existsSync(marker) && (await readFile(marker, 'utf8')) === settings;
      await mkdir(traceDir, { recursive: true });
      await writeFile(marker, settings);
      const todo = names.filter((n) => !same || !existsSync(tracePath(n)));
      // Largest first, so the two workers finish together.
      todo.sort((a, b) => (timestamps.get(b)?.length ?? 0) - (timestamps.get(a)?.length ?? 0));
      let done = 0;
      await Promise.all(
        todo.map(async (name) => {
          await pool.run({ kind: 'trace', dataPath: join(options.dataDir, name), tracePath: tracePath(name) });
          done += 1;
          progress(`model trace ${done}/${todo.length}: ${name}`);
        }),
      );
    }
    const traceSeconds = (Date.now() - traceStart) / 1000;

    // 2. The evaluator: a configuration is scored over every file (per file, independent of the
    // others) and a recent few are kept; callers get only the files they name.
    const makeEvaluator = (useModel: boolean): NestedEvaluator => {
      const cache = new Map<string, Promise<Map<string, Float64Array>>>();
      const scoreAll = (config: Overrides): Promise<Map<string, Float64Array>> => {
        const key = configKey(config);
        let p = cache.get(key);
        if (p === undefined) {
          evaluations += 1;
          const overrides = JSON.stringify({ ...base, ...config });
          p = Promise.all(
            names.map(async (name) => {
              const r = await pool.run({ kind: 'score', dataPath: join(options.dataDir, name), tracePath: useModel ? tracePath(name) : null, overrides });
              if (r.kind !== 'score') throw new SlothError('SLOTH_ERR_INTERNAL', 'nested job returned no scores');
              return [name, r.scores] as const;
            }),
          ).then((entries) => new Map(entries));
          cache.set(key, p);
          if (cache.size > 32) cache.delete(cache.keys().next().value as string);
        }
        return p;
      };
      return async (configs, wanted) =>
        Promise.all(
          configs.map(async (config) => {
            const all = await scoreAll(config);
            return wanted.map((name): NabFile => {
              const scores = all.get(name);
              if (scores === undefined) throw new InputError(`no file ${name} in the nested corpus`);
              return { name, timestampsMillis: timestamps.get(name) as number[], anomalyScores: Array.from(scores), windows: windows.get(name) ?? [] };
            });
          }),
        );
    };
    return await body({ names, folds, traceSeconds, makeEvaluator, gridOf, evaluations: () => evaluations, progress });
  } finally {
    await pool.close();
  }
}

/**
 * Nested leave-one-category-out (issue 12): for each held-out category the searched constants are
 * chosen by {@link searchNested} on the other three, then the held-out category is scored at the
 * thresholds chosen on those three. The model path replays each file's model trace (recorded once,
 * deterministic with the fixed seed) so the search re-scores only the post-processing.
 */
export async function runNestedNabCrossValidation(options: NestedCvOptions): Promise<NestedCvReport> {
  return await withNestedCorpus(options, async ({ folds, traceSeconds, makeEvaluator, gridOf, evaluations, progress }) => {
    const searchStart = Date.now();
    const runPath = async (useModel: boolean): Promise<NestedPathReport & { files: CvCandidate[] }> => {
      const evaluate = makeEvaluator(useModel);
      progress(`nested search, ${useModel ? 'model' : 'statistics-only'} path`);
      const searches = await searchNested(folds, gridOf(useModel), evaluate, options.passes ?? 2);
      // 3. Only now is each held-out category scored, with its fold's choice.
      const chosen = await Promise.all(
        searches.map(async (s, i) => {
          const fold = folds[i] as CategoryFold;
          const [files] = await evaluate([s.chosen], [...fold.train, ...fold.test]);
          return { name: `${useModel ? 'model' : 'stats'}: ${describeConfig(s.chosen)}`, files: new Map((files as NabFile[]).map((f) => [f.name, f])) };
        }),
      );
      return { searches, cv: scoreChosenPerFold(folds, chosen), files: chosen };
    };
    const stats = await runPath(false);
    const model = options.withModel ? await runPath(true) : null;
    // "Full": per fold, the path with the better training score (statistics on a tie: fewer parts).
    const fullPaths = folds.map((_, i) => (model !== null && (model.searches[i] as FoldSearch).trainScore > (stats.searches[i] as FoldSearch).trainScore ? 'model' : 'stats'));
    const full = scoreChosenPerFold(
      folds,
      fullPaths.map((p, i) => ((p === 'model' ? model?.files[i] : stats.files[i]) as CvCandidate)),
    );
    return {
      statsOnly: { searches: stats.searches, cv: stats.cv },
      model: model === null ? null : { searches: model.searches, cv: model.cv },
      full,
      fullPaths,
      evaluations: evaluations(),
      traceSeconds,
      searchSeconds: (Date.now() - searchStart) / 1000,
    };
  });
}

/** The search of {@link searchAllCategories}: one search over every category, nothing held out. */
export interface AllCategoriesSearch {
  /** `model` when options.withModel, else `stats`. */
  path: 'model' | 'stats';
  /** Category `all`, trained on every file. */
  search: FoldSearch;
  evaluations: number;
  traceSeconds: number;
  searchSeconds: number;
}

/**
 * The nested rule's check for product defaults (bench/detector/nested-cv-rule.md): the same
 * coordinate search as one fold's, run on all the categories at once (model path when
 * `withModel`, else statistics only). It decides defaults only: nothing is held out, so its score
 * is in-sample and never a figure to report as out of fold.
 */
export async function searchAllCategories(options: NestedCvOptions): Promise<AllCategoriesSearch> {
  return await withNestedCorpus(options, async ({ names, traceSeconds, makeEvaluator, gridOf, evaluations, progress }) => {
    const searchStart = Date.now();
    progress(`search on every category, ${options.withModel ? 'model' : 'statistics-only'} path`);
    const [search] = await searchNested([{ category: 'all', train: names, test: [] }], gridOf(options.withModel), makeEvaluator(options.withModel), options.passes ?? 2);
    return { path: options.withModel ? 'model' : 'stats', search: search as FoldSearch, evaluations: evaluations(), traceSeconds, searchSeconds: (Date.now() - searchStart) / 1000 };
  });
}
