import { InvalidArgumentError, type Command } from 'commander';
import { SlothError } from '@sloth/core/errors';
import { checkDistinctFiles, checkInputFile, checkOutputFile, maxWholeFileBytes, withStandardOutput, writesToStandardOutput } from '../input-files.js';
import { numberFlag } from '../options.js';

function argument(parse: (value: string) => number): (value: string) => number {
  return (value) => {
    try {
      return parse(value);
    } catch (error) {
      throw new InvalidArgumentError(error instanceof Error ? error.message : String(error));
    }
  };
}

function integerAtLeast(name: string, min: number): (value: string) => number {
  return argument((value) => {
    if (!/^-?\d+$/.test(value.trim()) || Number(value) < min) throw new Error(`${name} must be an integer ≥ ${min}, got ${JSON.stringify(value)}`);
    return Number(value);
  });
}

interface PlanFlags {
  trace: string;
  capacityPerReplica: number;
  startupSteps: number;
  output?: string;
  minReplicas: number;
  maxReplicas: number;
  initialReplicas?: number;
  targetUtilization: number;
  quantile?: number;
  underCost?: number;
  overCost?: number;
  stabilizationSteps: number;
  spendBudget?: number | 'off';
  referenceFloor: boolean;
  verbose: boolean;
}

/** `--spend-budget`: a ratio > 0 of replicas held to those a reactive reference holds, or `off` (commander turns a parsed null into '', so `off` stays a word). */
function spendBudgetFlag(value: string): number | 'off' {
  if (value.trim().toLowerCase() === 'off') return 'off';
  const ratio = Number(value);
  if (value.trim() === '' || !Number.isFinite(ratio) || ratio <= 0) throw new InvalidArgumentError(`--spend-budget must be a ratio > 0 or "off", got ${JSON.stringify(value)}`);
  return ratio;
}

/** Steps `sloth scale plan -v` explains at most (actions, changes of mode, first steps capped at the maximum). */
const maxExplainedSteps = 200;

/** `sloth scale plan --trace DEMAND.csv --capacity-per-replica C --startup-steps D --output PLAN.csv` (contract, ARCHITECTURE.md). */
export function registerScale(program: Command): void {
  const scale = program.command('scale').description('predictive scaling: replay the scaling policy over a demand trace');
  scale
    .command('plan')
    .description(
      'run the production predictive-scaling policy causally over a timestamp,value demand trace (step t sees rows ≤ t only) and write timestamp,replicas: the replicas requested at each step',
    )
    .requiredOption('--trace <file>', 'demand CSV: timestamp,value rows (header optional), sorted by time')
    .requiredOption('--capacity-per-replica <load>', 'load one replica serves at full use, in the units of the trace (> 0)', argument(numberFlag('--capacity-per-replica')))
    .requiredOption('--startup-steps <steps>', 'steps from requesting a replica to it serving load (≥ 0)', integerAtLeast('--startup-steps', 0))
    .option('-o, --output <file>', 'output CSV: timestamp,replicas (default, or -: standard output)')
    .option('--min-replicas <n>', 'never fewer replicas', integerAtLeast('--min-replicas', 0), 1)
    .option('--max-replicas <n>', 'never more replicas; a forecast above it is capped and the decision says so', integerAtLeast('--max-replicas', 1), 10_000)
    .option('--initial-replicas <n>', 'replicas running before the first step (default: --min-replicas)', integerAtLeast('--initial-replicas', 0))
    .option('--target-utilization <fraction>', 'load per replica aimed at, as a share of capacity, in (0, 1]', argument(numberFlag('--target-utilization')), 0.9)
    .option('--quantile <q>', 'forecast quantile to plan for, and the least share of past outcomes the headroom covers, 0.5–0.9 (default: from --under-cost/--over-cost, else 0.8: the scheduler\'s default costs 4 and 1)', argument(numberFlag('--quantile')))
    .option('--under-cost <cost>', 'cost of one unit of demand unserved (with --over-cost picks the quantile)', argument(numberFlag('--under-cost')))
    .option('--over-cost <cost>', 'cost of one unit of capacity idle', argument(numberFlag('--over-cost')))
    .option('--stabilization-steps <steps>', 'scale in only to the highest count wanted over this many steps', integerAtLeast('--stabilization-steps', 1), 2)
    .option(
      '--spend-budget <ratio|off>',
      'hold at most this multiple of the replicas a reactive autoscaler (70 % aim, ±10 %, 5-minute scale-in stabilisation) replayed on the same trace holds; the learnt headroom covers as many past outcomes as fit it (default: the scheduler\'s, 1.1); "off": headroom at the cost quantile alone',
      spendBudgetFlag,
    )
    .option('--reference-floor', 'never request fewer replicas than that reactive autoscaler would now (forecasts only add to it)', false)
    .option('-v, --verbose', 'print a summary (actions, steps per mode) and the reasons for each action and change of mode (at most 200 steps) to stderr', false)
    .addHelpText(
      'after',
      '\nThe policy is the one the scheduler runs for `scaling` targets: max(forecast quantile, demand now) times a headroom\nlearnt from how demand turned out against past plans (the quantile of past outcomes the costs imply, raised while\nthe spend budget affords it), never below demand now at the target utilisation, never\nscaling in on a forecast alone, with scale-in stabilisation and a self-guard that stops acting on\nforecasts whose rolling p10–p90 coverage or MASE degrades. Here the forecast comes from the scheduler\'s own causal\nforecaster (persistence / seasonal candidates with conformal quantiles).',
    )
    .action(async (flags: PlanFlags) => {
      const { planCsv, quantileFromCosts } = await import('@sloth/scheduler');
      if ((flags.underCost === undefined) !== (flags.overCost === undefined)) throw new SlothError('SLOTH_ERR_INPUT', '--under-cost and --over-cost go together: give both or neither');
      // planCsv reads the trace whole and writes the plan at the end: check both paths first.
      checkInputFile(flags.trace, '--trace', { maxBytes: maxWholeFileBytes });
      const output = flags.output;
      if (!writesToStandardOutput(output)) {
        checkOutputFile(output, '--output');
        checkDistinctFiles(flags.trace, '--trace', output, '--output');
      }
      const quantile = flags.quantile ?? quantileFromCosts(flags.underCost ?? 4, flags.overCost ?? 1);
      const options = {
        capacityPerReplica: flags.capacityPerReplica,
        startupSteps: flags.startupSteps,
        minReplicas: flags.minReplicas,
        maxReplicas: flags.maxReplicas,
        ...(flags.initialReplicas === undefined ? {} : { initialReplicas: flags.initialReplicas }),
        targetUtilization: flags.targetUtilization,
        quantile,
        scaleInStabilizationSteps: flags.stabilizationSteps,
        ...(flags.spendBudget === undefined ? {} : { spendBudgetRatio: flags.spendBudget === 'off' ? null : flags.spendBudget }),
        referenceFloor: flags.referenceFloor,
      };
      const decisions = writesToStandardOutput(output)
        ? await withStandardOutput((stdout) => planCsv(flags.trace, stdout, options))
        : await planCsv(flags.trace, output, options);
      if (decisions === undefined) return; // the reader of standard output went away
      if (flags.verbose) {
        const modes = new Map<string, number>();
        for (const d of decisions) modes.set(d.mode, (modes.get(d.mode) ?? 0) + 1);
        const actions = decisions.filter((d) => d.action !== 'hold').length;
        process.stderr.write(`sloth scale plan: ${decisions.length} steps, ${actions} action${actions === 1 ? '' : 's'}, quantile ${quantile}, modes ${JSON.stringify(Object.fromEntries(modes))}\n`);
        // Why: every action, every change of mode and every first step capped at the maximum, with the policy's reasons.
        let lines = 0;
        decisions.forEach((d, i) => {
          const previous = decisions[i - 1];
          if (d.action === 'hold' && previous?.mode === d.mode && !(d.cappedAtMax && previous.cappedAtMax !== true)) return;
          lines += 1;
          if (lines > maxExplainedSteps) return;
          process.stderr.write(`  step ${i + 1}: ${d.action === 'hold' ? 'hold' : `${d.action} ${d.previousReplicas} → ${d.replicas}`} [${d.mode}] ${d.reasons.join('; ')}\n`);
        });
        if (lines > maxExplainedSteps) process.stderr.write(`  … and ${lines - maxExplainedSteps} more steps with an action or a change of mode\n`);
      }
    });
}
