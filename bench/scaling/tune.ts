/**
 * A grid over Sloth's scaling constants on one trace set, Sloth only (HPA is
 * replayed once per trace): the under-provisioned minutes against HPA's and
 * the geometric-mean replica-hours ratio per trace, for each setting. For
 * choosing constants on `tuning` and checking them on `validation`; never
 * run it on `report` or `holdout2` (docs/scheduler.md says what each choice looked at).
 *
 *   npx tsc -b scheduler && nice -n 10 npx tsx bench/scaling/tune.ts --set tuning --quantile 0.8 --max-headroom none,1.5,2 --spend-budget default,none [--stabilization 2] [--keep-plans off,on] [--periodic off,on]
 *
 * Since 12:05 UTC (bench/scaling/RULES.md) there is no headroom price: the headroom is the cost quantile
 * (`--quantile`) of past outcomes, raised within the spend budget (now relative to a reactive reference).
 * The rules below picked the earlier defaults.
 *
 * The rule that picked the defaults of 09:42 (price 0.2, no headroom cap, spend budget 1.1 / 0.7), written
 * before any spend-budget candidate was run: a setting qualifies if, on tuning and on validation separately,
 * it has ≥ 60 % fewer under-provisioned minutes than HPA and a geometric-mean replica-hours ratio ≤ 1.00,
 * and no single trace of the ten exceeds HPA's replica-hours by more than 10 % (the report set's mix of
 * traces differs, so the target is asked of every trace); of those, the highest worse-of-the-two reduction
 * wins, ties within 1 point going to fewer constants. The previous defaults (price 0.1, cap 2, no budget)
 * failed the per-trace clause (+27 % on ec2_cpu_utilization_24ae8d).
 *
 * The rule for changes aimed at rises (brief H14S2), written 09:42 UTC before any such candidate was run:
 * a candidate qualifies by the clauses above (tuning and validation separately ≥ 60 % fewer under-provisioned
 * minutes than HPA and geometric replica-hours ≤ 1.00; no trace of the ten above +10 %). It replaces the
 * current defaults only if its worse-of-the-two reduction beats theirs (as this script prints it for the
 * defaults: tuning 68.7 %, validation 68.3 %) by at least 2.0 points; among several, the highest
 * worse-of-the-two wins, ties within 1 point going to fewer constants. Otherwise nothing changes. Only then
 * run.ts is run once on `holdout2` (declared in sets.ts with this rule) and once on `report` (its 5th look).
 * Outcome (--price 0.2 --keep-plans off,on --periodic off,on): all four qualify; worse-of-two 68.3 (defaults),
 * 69.3 (periodic), 72.3 (keep plans), 71.2 (both): keep plans ahead became the default, the periodic
 * candidate stays off.
 */
import { existsSync } from 'node:fs';
import { defaultSpendBudgetRatio, planTrace, quantileFromCosts } from '@sloth/scheduler';
import { BenchTool } from '../tool-args.js';
import { sets } from './sets.js';
import { replay } from './sim.js';
import { defaultNabDataDir, hpaFor, loadTrace } from './traces.js';

const usage = `usage: npx tsx bench/scaling/tune.ts [--data DIR] [--set tuning] [--quantile 0.8] [--max-headroom none] [--spend-budget default]
  [--stabilization 2] [--periodic off] [--keep-plans on]
A grid over Sloth's scaling constants on one trace set (Sloth only, HPA replayed once per trace): under-provisioned
minutes against HPA's and the replica-hours ratio for each setting (build first: npx tsc -b scheduler). Each grid
flag takes a comma-separated list; the grid is every combination.
  --data DIR                  NAB data directory (default ${defaultNabDataDir})
  --set tuning|validation     trace set; never a held-out one (default tuning)
  --quantile Q,...            headroom quantile of past outcomes (default 0.8)
  --max-headroom F|none,...   cap on the headroom factor (default none)
  --spend-budget R|default|none,...  spend budget relative to a reactive reference (default: the policy's, ${defaultSpendBudgetRatio})
  --stabilization N,...       scale-in stabilisation, steps (default 2)
  --periodic off|on,...       the forecaster's periodic-naive candidate (default off)
  --keep-plans off|on,...     scale-in never below a forecast's plan for a step still to come (default on)`;
const tool = new BenchTool('scaling/tune', usage);
const flags = tool.args({
  data: { type: 'string', default: defaultNabDataDir },
  set: { type: 'string', default: 'tuning' },
  // The cost-implied headroom level (the bench's statement 4 : 1 → 0.8).
  quantile: { type: 'string', default: '0.8' },
  'max-headroom': { type: 'string', default: 'none' },
  'spend-budget': { type: 'string', default: 'default' },
  stabilization: { type: 'string', default: '2' },
  // off,on: the forecaster's periodic-naive candidate (an intra-day period from the series' own autocorrelation).
  periodic: { type: 'string', default: 'off' },
  // off,on: scale-in never below a forecast's plan for a step still to come (on: the policy's default).
  'keep-plans': { type: 'string', default: 'on' },
});

if (flags.set === 'report' || flags.set === 'holdout2' || flags.set === 'holdout3') tool.fail(`tune.ts chooses constants: run it on --set tuning or validation, never on ${flags.set} (a held-out set)`);
const files = sets[flags.set] ?? tool.fail(`--set must be one of tuning, validation, got ${flags.set}`);
if (!existsSync(flags.data)) tool.fail(`--data ${flags.data}: no such directory (the NAB data directory)`);
const list = (text: string, name: string): Array<number | undefined> =>
  text.split(',').map((item) => {
    if (item === 'none' || item === 'default') return undefined;
    const value = Number(item);
    if (!Number.isFinite(value)) tool.fail(`--${name} takes numbers (or none) separated by commas, got ${JSON.stringify(item)}`);
    return value;
  });
const quantiles = list(flags.quantile, 'quantile');
const caps = list(flags['max-headroom'], 'max-headroom');
const stabilizations = list(flags.stabilization, 'stabilization');
// `none`: no spend budget; `default`: the policy's.
const budgets = flags['spend-budget'].split(',').map((item) => (item === 'none' ? null : (list(item, 'spend-budget')[0] ?? defaultSpendBudgetRatio)));

const periodics = flags.periodic.split(',').map((item) => {
  if (item !== 'on' && item !== 'off') tool.fail(`--periodic takes on and/or off separated by commas, got ${JSON.stringify(item)}`);
  return item === 'on';
});
const keepPlans = flags['keep-plans'].split(',').map((item) => {
  if (item !== 'on' && item !== 'off') tool.fail(`--keep-plans takes on and/or off separated by commas, got ${JSON.stringify(item)}`);
  return item === 'on';
});

// Read and sized as run.ts reads them (traces.ts), HPA replayed once per trace.
const traces = files.map((file) => {
  const trace = loadTrace(flags.data, file);
  return { file, rows: trace.rows, sim: trace.sim, hpa: replay(trace.rows, trace.sim, hpaFor(trace)) };
});

process.stdout.write(
  `set ${flags.set}: HPA ${traces.reduce((s, t) => s + t.hpa.underProvisionedMinutes, 0)} under-provisioned minutes\n| keep plans | periodic | spend budget | quantile | max headroom | stabilisation | under-prov. min | vs HPA | replica-h vs HPA (geometric) | worst trace replica-h |\n|---|---|---:|---:|---:|---:|---:|---:|---:|---:|\n`,
);
const grid = keepPlans.flatMap((ahead) =>
  periodics.flatMap((periodic) =>
    budgets.flatMap((budget) => stabilizations.flatMap((stabilization) => caps.flatMap((cap) => quantiles.map((quantile) => ({ ahead, periodic, budget, stabilization, cap, quantile }))))),
  ),
);
for (const { ahead, periodic, budget, stabilization, cap, quantile } of grid) {
  let under = 0;
  let hpaUnder = 0;
  let logSum = 0;
  let worst = 0;
  for (const t of traces) {
    const decisions = planTrace(t.rows, {
      capacityPerReplica: t.sim.capacityPerReplica,
      startupSteps: t.sim.startupSteps,
      initialReplicas: t.sim.initialReplicas,
      minReplicas: 1,
      maxReplicas: 100_000,
      targetUtilization: 0.9,
      quantile: quantile ?? quantileFromCosts(4, 1),
      scaleInStabilizationSteps: stabilization ?? 2,
      // `none`: no cap, the policy's default.
      maxHeadroomFactor: cap,
      spendBudgetRatio: budget,
      periodicForecast: periodic,
      keepPlansAhead: ahead,
    });
    const result = replay(t.rows, t.sim, ({ step }) => decisions[step]?.replicas ?? 1);
    under += result.underProvisionedMinutes;
    hpaUnder += t.hpa.underProvisionedMinutes;
    const ratio = result.replicaHours / t.hpa.replicaHours;
    logSum += Math.log(ratio);
    worst = Math.max(worst, ratio);
  }
  const geometric = Math.exp(logSum / traces.length);
  process.stdout.write(
    `| ${ahead ? 'on' : 'off'} | ${periodic ? 'on' : 'off'} | ${budget === null ? 'none' : budget.toFixed(3)} | ${quantile ?? 0.8} | ${cap ?? 'none'} | ${stabilization ?? 2} | ${under} | ${(100 * (1 - under / hpaUnder)).toFixed(1)}% fewer | ${geometric >= 1 ? '+' : ''}${(100 * (geometric - 1)).toFixed(1)}% | ${worst >= 1 ? '+' : ''}${(100 * (worst - 1)).toFixed(0)}% |\n`,
  );
}
