/**
 * Predictive scaling against Kubernetes HPA, an AWS-style policy and an
 * oracle, replayed over NAB demand traces (see bench/scaling/sim.ts for the
 * replay model and docs/benchmarks.md for results).
 *
 *   npx tsc -b scheduler && nice -n 10 npx tsx bench/scaling/run.ts --data /work/shared/datasets/nab/data [--set report|holdout2|holdout3|tuning|validation] [--spend-budget R|none] [--keep-plans on|off] [--periodic on|off] [--json]
 *
 * Sloth's constants: target utilisation, stabilisation and kept plans were
 * chosen on the `tuning` and `validation` traces only (bench/scaling/tune.ts);
 * the headroom level (the cost statement 4 : 1 → q80) and the spend budget
 * (1.1 × a reactive reference at 70 %, ±10 %, 5 min) are stated a priori
 * (bench/scaling/RULES.md). The report set has been looked at after earlier
 * choices too (docs/scheduler.md lists every look), so it is not fully out of
 * sample; holdout3 (sets.ts) is looked at once.
 */
import { existsSync } from 'node:fs';
import { defaultSpendBudgetRatio, HorizonForecaster, dailySeasonSteps, planTrace, ScalingPolicy, type PlanOptions, type TraceRow } from '@sloth/scheduler';
import { BenchTool } from '../tool-args.js';
import { sets } from './sets.js';
import { hpaPolicy, replay, type ReplayPolicy, type ReplayResult } from './sim.js';
import { defaultNabDataDir, hpaFor, loadTrace, maxReplicas, slothDefaults, slothOptions, startupMinutes, type SlothConstants } from './traces.js';

const usage = `usage: npx tsx bench/scaling/run.ts [--data DIR] [--set report] [--utilization 0.9] [--quantile 0.8] [--stabilization 2]
  [--max-headroom F] [--spend-budget 1.1|none] [--periodic off] [--keep-plans on] [--reference-floor off] [--json]
Replays NAB demand traces under Kubernetes HPA, an AWS-style policy, Sloth's predictive scaling and an oracle
and prints under-provisioned minutes, replica-hours and actions per trace (build first: npx tsc -b scheduler).
  --data DIR            NAB data directory (default ${defaultNabDataDir})
  --set NAME            trace set: ${Object.keys(sets).join(', ')} (default report)
  --utilization U       Sloth's target utilisation (default 0.9)
  --quantile Q          headroom quantile of past outcomes (default 0.8: under-provisioning costs 4× idle)
  --stabilization N     scale-in stabilisation, steps (default 2)
  --max-headroom F      cap on the headroom factor (default: none)
  --spend-budget R      spend budget relative to a reactive reference, or none (default ${defaultSpendBudgetRatio})
  --periodic on|off     the forecaster's periodic-naive candidate (default off)
  --keep-plans on|off   scale-in never below a forecast's plan for a step still to come (default on)
  --reference-floor on|off  never request fewer replicas than the reactive reference (HPA) does (default off)
  --json                print every result as JSON instead of the tables`;
const tool = new BenchTool('scaling/run', usage);
const flags = tool.args({
  data: { type: 'string', default: defaultNabDataDir },
  set: { type: 'string', default: 'report' },
  utilization: { type: 'string' },
  quantile: { type: 'string' },
  stabilization: { type: 'string' },
  'max-headroom': { type: 'string' },
  'spend-budget': { type: 'string' },
  periodic: { type: 'string' },
  'keep-plans': { type: 'string' },
  'reference-floor': { type: 'string' },
  json: { type: 'boolean', default: false },
});
for (const name of ['periodic', 'keep-plans', 'reference-floor'] as const) {
  const value = flags[name];
  if (value !== undefined && value !== 'on' && value !== 'off') tool.fail(`--${name} takes on or off, got ${JSON.stringify(value)}`);
}
const files = sets[flags.set] ?? tool.fail(`--set must be one of ${Object.keys(sets).join(', ')}, got ${flags.set}`);
if (!existsSync(flags.data)) tool.fail(`--data ${flags.data}: no such directory (the NAB data directory)`);
const optionalNumber = (name: 'utilization' | 'quantile' | 'stabilization' | 'max-headroom', limits: { min?: number; max?: number; integer?: boolean }): number | undefined =>
  flags[name] === undefined ? undefined : tool.number(name, flags[name], limits);
const utilization = optionalNumber('utilization', { min: 0, max: 1 });
const quantile = optionalNumber('quantile', { min: 0, max: 1 });
const stabilization = optionalNumber('stabilization', { min: 0, integer: true });
const maxHeadroom = optionalNumber('max-headroom', { min: 0 });
const spendBudget = flags['spend-budget'] === undefined || flags['spend-budget'] === 'none' ? flags['spend-budget'] : tool.number('spend-budget', flags['spend-budget'], { min: 0 });

/** The benchmark's defaults (traces.ts, chosen or stated as RULES.md says), with the flags given. */
const slothConstants: SlothConstants = {
  ...slothDefaults,
  ...(utilization === undefined ? {} : { targetUtilization: utilization }),
  ...(quantile === undefined ? {} : { quantile }),
  ...(stabilization === undefined ? {} : { scaleInStabilizationSteps: stabilization }),
  ...(maxHeadroom === undefined ? {} : { maxHeadroomFactor: maxHeadroom }),
  ...(spendBudget === undefined ? {} : { spendBudgetRatio: spendBudget === 'none' ? null : spendBudget }),
  periodicForecast: flags.periodic === 'on',
  keepPlansAhead: flags['keep-plans'] !== 'off',
  referenceFloor: flags['reference-floor'] === 'on',
};

interface TraceResult {
  trace: string;
  steps: number;
  stepMinutes: number;
  startupSteps: number;
  capacityPerReplica: number;
  policies: Record<string, ReplayResult & { forecastOnlyShare?: number }>;
  /** Steps whose demand is more than twice the highest demand of the hour before a plan for them had to be made. */
  jumpSteps: Set<number>;
  /** Other steps whose demand is more than 1.5× the demand when a plan for them had to be made. */
  riseSteps: Set<number>;
}

function runTrace(file: string): TraceResult {
  const trace = loadTrace(flags.data, file);
  const { rows, stepMillis, stepMinutes, startupSteps, capacityPerReplica, initialReplicas, sim } = trace;
  const policies: TraceResult['policies'] = {};

  policies.hpa = replay(rows, sim, hpaFor(trace));

  // AWS predictive scaling (p50 load forecast / target) with target tracking (reactive) on top.
  const awsForecaster = new HorizonForecaster({ horizonSteps: startupSteps, seasonSteps: dailySeasonSteps(stepMillis) });
  const tracking = hpaPolicy({ capacityPerReplica, target: 0.7, tolerance: 0, stabilizationSteps: trace.hpaStabilizationSteps, minReplicas: 1 });
  const aws: ReplayPolicy = (context) => {
    awsForecaster.observe(context.demand);
    const reactive = tracking(context);
    const forecast = awsForecaster.forecast();
    return forecast === undefined ? reactive : Math.max(reactive, Math.ceil(forecast.p50 / (capacityPerReplica * 0.7)));
  };
  policies.aws = replay(rows, sim, aws);

  const options: PlanOptions = slothOptions(trace, slothConstants);
  const decisions = planTrace(rows, options);
  policies.sloth = { ...replay(rows, sim, ({ step }) => decisions[step]?.replicas ?? 1), forecastOnlyShare: decisions.filter((d) => d.mode === 'forecast-only').length / decisions.length };

  // The oracle: the same policy fed the true future demand as its forecast, with a spend budget that never binds (10⁶×
  // the reactive reference's spend), so its headroom covers every past outcome (a factor of 1 on an exact forecast). A binding budget would make the oracle
  // itself under-provision (1,760 instead of 50 minutes on tuning), and so would no budget since c544044 (the
  // headroom is then the cost-level quantile of outcomes, below 1 when demand often falls: 4,090 instead of 60
  // minutes on holdout3); a weaker oracle would make "within 2× of the oracle" easier to meet for no better scaling.
  const oracle = new ScalingPolicy({ ...options, minReplicas: 1, maxReplicas, spendBudgetRatio: 1e6 }, initialReplicas);
  policies.oracle = replay(rows, sim, ({ step, demand }) => {
    const future = rows[step + startupSteps]?.demand ?? demand;
    return oracle.decide({ timestampMillis: (rows[step] as TraceRow).timestampMillis, demand, forecast: { p10: future, p50: future, p90: future } }).replicas;
  });
  // A jump: demand above twice the highest of the hour up to the moment a replica serving it had to be requested.
  // No causal policy that plans within 2× the recent peak serves it; the oracle does. Both constants are fixed, not fitted.
  const hourSteps = Math.max(1, Math.round(60 / stepMinutes));
  const jumpSteps = new Set<number>();
  rows.forEach((row, step) => {
    const seen = rows.slice(Math.max(0, step - startupSteps - hourSteps + 1), Math.max(0, step - startupSteps + 1)).map((r) => r.demand);
    if (seen.length > 0 && row.demand > 2 * Math.max(...seen)) jumpSteps.add(step);
  });
  // A rise: demand above 1.5× the demand at the moment it had to be planned; serving every rise causally means
  // holding that headroom at every step.
  const riseSteps = new Set<number>();
  rows.forEach((row, step) => {
    const then = rows[step - startupSteps];
    if (then !== undefined && !jumpSteps.has(step) && row.demand > 1.5 * then.demand) riseSteps.add(step);
  });
  return { trace: file, steps: rows.length, stepMinutes, startupSteps, capacityPerReplica, policies, jumpSteps, riseSteps };
}

const results = files.map(runTrace);
if (flags.json) {
  process.stdout.write(`${JSON.stringify({ constants: slothConstants, results: results.map((r) => ({ ...r, jumpSteps: [...r.jumpSteps], riseSteps: [...r.riseSteps] })) }, null, 2)}\n`);
} else {
  const names = ['hpa', 'aws', 'sloth', 'oracle'];
  const totals = new Map(names.map((n) => [n, { under: 0, actions: 0, unserved: 0 }]));
  process.stdout.write(`set ${flags.set}, Sloth constants ${JSON.stringify(slothConstants)}, startup ${startupMinutes} min\n`);
  process.stdout.write('| trace | policy | under-prov. min | unserved % | replica-h | actions | forecast-only % |\n|---|---|---:|---:|---:|---:|---:|\n');
  for (const result of results) {
    for (const name of names) {
      const r = result.policies[name] as ReplayResult & { forecastOnlyShare?: number };
      const total = totals.get(name) as { under: number; actions: number; unserved: number };
      total.under += r.underProvisionedMinutes;
      total.actions += r.actions;
      total.unserved += r.unservedShare / results.length;
      const fo = r.forecastOnlyShare === undefined ? '-' : (100 * r.forecastOnlyShare).toFixed(1);
      process.stdout.write(`| ${result.trace.split('/')[1]} | ${name} | ${r.underProvisionedMinutes} | ${(100 * r.unservedShare).toFixed(3)} | ${r.replicaHours.toFixed(0)} | ${r.actions} | ${fo} |\n`);
    }
  }
  for (const name of names) {
    const t = totals.get(name) as { under: number; actions: number; unserved: number };
    process.stdout.write(`| **all** | ${name} | ${t.under} | ${(100 * t.unserved).toFixed(3)} (mean) | - | ${t.actions} | |\n`);
  }
  // Replica-hours are in each trace's own replica size, so they are compared per trace, never summed.
  process.stdout.write('\n| trace | Sloth vs HPA under-prov. minutes | Sloth vs HPA replica-hours | Sloth / oracle under-prov. minutes | Sloth under-prov. min at jumps / rises / other |\n|---|---:|---:|---:|---:|\n');
  let jumpMinutes = 0;
  let riseMinutes = 0;
  const ratios: number[] = [];
  for (const result of results) {
    const hpa = result.policies.hpa as ReplayResult;
    const sloth = result.policies.sloth as ReplayResult;
    const oracle = result.policies.oracle as ReplayResult;
    const fewer =
      hpa.underProvisionedMinutes === 0
        ? `HPA has none (Sloth ${sloth.underProvisionedMinutes} min)`
        : sloth.underProvisionedMinutes <= hpa.underProvisionedMinutes
          ? `${(100 * (1 - sloth.underProvisionedMinutes / hpa.underProvisionedMinutes)).toFixed(0)}% fewer`
          : `${(sloth.underProvisionedMinutes / hpa.underProvisionedMinutes).toFixed(1)}× more (${sloth.underProvisionedMinutes} vs ${hpa.underProvisionedMinutes} min)`;
    const hours = sloth.replicaHours / hpa.replicaHours;
    ratios.push(hours);
    const vsOracle = oracle.underProvisionedMinutes > 0 ? `${(sloth.underProvisionedMinutes / oracle.underProvisionedMinutes).toFixed(1)}×` : `${sloth.underProvisionedMinutes} vs 0 min`;
    const atJumps = sloth.underProvisionedSteps.filter((step) => result.jumpSteps.has(step)).length * result.stepMinutes;
    const atRises = sloth.underProvisionedSteps.filter((step) => result.riseSteps.has(step)).length * result.stepMinutes;
    jumpMinutes += atJumps;
    riseMinutes += atRises;
    process.stdout.write(`| ${result.trace.split('/')[1]} | ${fewer} | ${hours >= 1 ? '+' : ''}${(100 * (hours - 1)).toFixed(0)}% | ${vsOracle} | ${atJumps} / ${atRises} / ${sloth.underProvisionedMinutes - atJumps - atRises} |\n`);
  }
  const hpa = totals.get('hpa') as { under: number };
  const sloth = totals.get('sloth') as { under: number };
  const oracle = totals.get('oracle') as { under: number };
  const geometric = Math.exp(ratios.reduce((sum, r) => sum + Math.log(r), 0) / ratios.length);
  process.stdout.write(
    `\nOf Sloth's ${sloth.under} under-provisioned minutes: ${jumpMinutes} at jumps (demand > 2× the peak of the hour before it had to be planned), ${riseMinutes} at rises (> 1.5× the demand when it had to be planned), ${sloth.under - jumpMinutes - riseMinutes} other (${((sloth.under - jumpMinutes - riseMinutes) / Math.max(oracle.under, 1e-9)).toFixed(1)}× the oracle's ${oracle.under})\n`,
  );
  process.stdout.write(
    `\nAll traces: Sloth ${(100 * (1 - sloth.under / hpa.under)).toFixed(1)}% fewer under-provisioned minutes than HPA (${sloth.under} vs ${hpa.under}); replica-hours vs HPA: geometric mean ${(100 * (geometric - 1)).toFixed(1)}% per trace; ${(sloth.under / Math.max(oracle.under, 1e-9)).toFixed(1)}× the oracle's under-provisioned minutes (${oracle.under})\n`,
  );
}
