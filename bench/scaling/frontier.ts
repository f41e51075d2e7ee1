/**
 * Where issue 14's target point sits against simple causal policies (a diagnostic; it decides nothing): the
 * issue's HPA (±10 % tolerance, 5-minute scale-in stabilisation, the same 10-minute startup) at a range of target
 * utilisations, and Sloth's policy (the benchmark's defaults) at a range of spend-budget ratios, each replayed
 * through sim.ts exactly as run.ts replays them. Per set it prints each policy's under-provisioned minutes and
 * replica-hours against the issue's HPA at 70 %, and where "≥ 60 % fewer minutes at ≤ +10 % replica-hours" lies.
 * Only the development sets (`tuning`, `validation`): it refuses the held-out ones.
 *
 *   npx tsc -b scheduler && nice -n 10 npx tsx bench/scaling/frontier.ts [--set tuning,validation] [--utilizations 0.5,0.55,...,0.8] [--budgets 1,1.1,1.2,1.3] [--json]
 */
import { existsSync } from 'node:fs';
import { planTrace } from '@sloth/scheduler';
import { BenchTool } from '../tool-args.js';
import { sets } from './sets.js';
import { replay, type ReplayResult } from './sim.js';
import { defaultNabDataDir, hpaFor, issueHpa, loadTrace, slothDefaults, slothOptions, type BenchTrace } from './traces.js';

const developmentSets = ['tuning', 'validation'];
const usage = `usage: npx tsx bench/scaling/frontier.ts [--data DIR] [--set tuning,validation] [--utilizations 0.5,0.55,0.6,0.65,0.7,0.75,0.8]
  [--budgets 1,1.1,1.2,1.3] [--json]
Replays the issue's HPA at each target utilisation and Sloth's policy at each spend-budget ratio (build first:
npx tsc -b scheduler) and prints, per set and for the sets together, under-provisioned minutes and replica-hours
against the issue's HPA at ${issueHpa.target}, and where the target (≥ 60 % fewer minutes, ≤ +10 % replica-hours) lies.
  --data DIR            NAB data directory (default ${defaultNabDataDir})
  --set A,B             development sets only: ${developmentSets.join(', ')} (default both)
  --utilizations U,...  HPA target utilisations, each in (0, 1] (default 0.5 to 0.8 by 0.05)
  --budgets R|none,...  Sloth's spend-budget ratios (relative to the reactive reference), or none (default 1,1.1,1.2,1.3)
  --json                every figure as JSON instead of the tables`;
const tool = new BenchTool('scaling/frontier', usage);
const flags = tool.args({
  data: { type: 'string', default: defaultNabDataDir },
  set: { type: 'string', default: developmentSets.join(',') },
  utilizations: { type: 'string', default: '0.5,0.55,0.6,0.65,0.7,0.75,0.8' },
  budgets: { type: 'string', default: '1,1.1,1.2,1.3' },
  json: { type: 'boolean', default: false },
});

const setNames = flags.set.split(',');
for (const name of setNames) {
  if (!developmentSets.includes(name)) {
    tool.fail(`--set takes ${developmentSets.join(' and/or ')} (the development sets), got ${JSON.stringify(name)}${name in sets ? ' (a held-out set: the frontier is drawn on development data only)' : ''}`);
  }
}
if (!existsSync(flags.data)) tool.fail(`--data ${flags.data}: no such directory (the NAB data directory)`);
const utilizations = flags.utilizations.split(',').map((item) => tool.number('utilizations', item, { min: Number.MIN_VALUE, max: 1 }));
const budgets = flags.budgets.split(',').map((item) => (item === 'none' ? null : tool.number('budgets', item, { min: Number.MIN_VALUE })));

/** A replay's figures without the list of under-provisioned steps. */
type Figures = Omit<ReplayResult, 'underProvisionedSteps'>;
const figures = ({ underProvisionedSteps: _steps, ...rest }: ReplayResult): Figures => rest;

interface Point {
  /** `hpa@U` or `sloth@R` (R: the spend-budget ratio, or none). */
  policy: string;
  family: 'hpa' | 'sloth';
  /** HPA's target utilisation or Sloth's spend-budget ratio (null: no budget). */
  knob: number | null;
}
const points: Point[] = [
  ...utilizations.map((u): Point => ({ policy: `hpa@${u}`, family: 'hpa', knob: u })),
  ...budgets.map((b): Point => ({ policy: `sloth@${b ?? 'none'}`, family: 'sloth', knob: b })),
];

interface TraceFigures {
  set: string;
  trace: string;
  /** The issue's HPA at 70 %: what every point is compared with. */
  reference: Figures;
  policies: Record<string, Figures>;
}

function runTrace(set: string, trace: BenchTrace): TraceFigures {
  const policies: Record<string, Figures> = {};
  for (const point of points) {
    if (point.family === 'hpa') {
      policies[point.policy] = figures(replay(trace.rows, trace.sim, hpaFor(trace, point.knob as number)));
    } else {
      const decisions = planTrace(trace.rows, slothOptions(trace, { ...slothDefaults, spendBudgetRatio: point.knob }));
      policies[point.policy] = figures(replay(trace.rows, trace.sim, ({ step }) => decisions[step]?.replicas ?? 1));
    }
  }
  return { set, trace: trace.file, reference: figures(replay(trace.rows, trace.sim, hpaFor(trace))), policies };
}

interface Summary {
  policy: string;
  family: Point['family'];
  knob: number | null;
  underMinutes: number;
  referenceUnderMinutes: number;
  /** 1 − minutes / the reference's minutes (0.6: the issue's "60 % fewer"). */
  fewerMinutes: number;
  /** Geometric mean over traces of replica-hours / the reference's (replica sizes differ per trace: never summed). */
  replicaHoursRatio: number;
  worstReplicaHoursRatio: number;
  /**
   * The smallest cut in minutes over the sets left when one trace is left out (each trace in turn), and that trace:
   * how much of the cut rests on a single trace.
   */
  leaveOneOut: { fewerMinutes: number; without: string };
  /** Traces where the policy has at most the reference's under-provisioned minutes. */
  tracesAtMostReference: number;
  traces: number;
  meetsTarget: boolean;
}

function summarise(rows: TraceFigures[]): Summary[] {
  const referenceUnder = rows.reduce((sum, r) => sum + r.reference.underProvisionedMinutes, 0);
  return points.map((point) => {
    const under = rows.reduce((sum, r) => sum + (r.policies[point.policy] as Figures).underProvisionedMinutes, 0);
    const ratios = rows.map((r) => (r.policies[point.policy] as Figures).replicaHours / r.reference.replicaHours);
    const fewerMinutes = referenceUnder > 0 ? 1 - under / referenceUnder : Number.NaN;
    const replicaHoursRatio = Math.exp(ratios.reduce((sum, x) => sum + Math.log(x), 0) / ratios.length);
    const leaveOneOut = rows
      .map((left) => {
        const rest = rows.filter((r) => r !== left);
        const restReference = rest.reduce((sum, r) => sum + r.reference.underProvisionedMinutes, 0);
        const restUnder = rest.reduce((sum, r) => sum + (r.policies[point.policy] as Figures).underProvisionedMinutes, 0);
        return { fewerMinutes: restReference > 0 ? 1 - restUnder / restReference : Number.NaN, without: left.trace };
      })
      .reduce((worst, x) => (x.fewerMinutes < worst.fewerMinutes || Number.isNaN(worst.fewerMinutes) ? x : worst));
    return {
      ...point,
      underMinutes: under,
      leaveOneOut,
      referenceUnderMinutes: referenceUnder,
      fewerMinutes,
      replicaHoursRatio,
      worstReplicaHoursRatio: Math.max(...ratios),
      tracesAtMostReference: rows.filter((r) => (r.policies[point.policy] as Figures).underProvisionedMinutes <= r.reference.underProvisionedMinutes).length,
      traces: rows.length,
      meetsTarget: fewerMinutes >= 0.6 && replicaHoursRatio <= 1.1,
    };
  });
}

/**
 * Along one family's points ordered by replica-hours, the cut in minutes at +10 % replica-hours and the
 * replica-hours at a 60 % cut, each by linear interpolation between the two neighbouring points (descriptive),
 * or null when the family's points do not reach across that line.
 */
function crossings(summaries: Summary[]): { fewerAtPlus10: number | null; hoursAt60: number | null } {
  const sorted = [...summaries].sort((a, b) => a.replicaHoursRatio - b.replicaHoursRatio);
  const between = (x: number, key: 'replicaHoursRatio' | 'fewerMinutes', other: 'replicaHoursRatio' | 'fewerMinutes'): number | null => {
    for (let i = 1; i < sorted.length; i += 1) {
      const a = sorted[i - 1] as Summary;
      const b = sorted[i] as Summary;
      if ((a[key] - x) * (b[key] - x) <= 0 && a[key] !== b[key]) return a[other] + ((x - a[key]) / (b[key] - a[key])) * (b[other] - a[other]);
    }
    return null;
  };
  return { fewerAtPlus10: between(1.1, 'replicaHoursRatio', 'fewerMinutes'), hoursAt60: between(0.6, 'fewerMinutes', 'replicaHoursRatio') };
}

const results = setNames.flatMap((set) => (sets[set] as string[]).map((file) => runTrace(set, loadTrace(flags.data, file))));
const groups: Array<{ name: string; rows: TraceFigures[] }> = setNames.map((set) => ({ name: set, rows: results.filter((r) => r.set === set) }));
if (setNames.length > 1) groups.push({ name: setNames.join(' ∪ '), rows: results });
const summaries = groups.map((group) => ({ group: group.name, points: summarise(group.rows) }));

const percent = (x: number, signed = true): string => `${signed && x >= 0 ? '+' : ''}${(100 * x).toFixed(1)} %`;
if (flags.json) {
  process.stdout.write(`${JSON.stringify({ reference: { ...issueHpa }, slothConstants: slothDefaults, results, summaries }, null, 2)}\n`);
} else {
  for (const { group, points: rows } of summaries) {
    process.stdout.write(
      `\n### ${group} (${rows[0]?.traces ?? 0} traces; HPA at ${issueHpa.target}: ${rows[0]?.referenceUnderMinutes ?? 0} under-provisioned minutes)\n\n| policy | under-prov. min | vs HPA-70 % | replica-h vs HPA-70 % (geometric) | worst trace | traces ≤ HPA-70 %'s minutes | meets −60 % / +10 % | minutes vs HPA-70 %, one trace left out (worst) |\n|---|---:|---:|---:|---:|---:|---|---|\n`,
    );
    for (const s of rows) {
      process.stdout.write(
        `| ${s.policy} | ${s.underMinutes} | ${percent(-s.fewerMinutes)} | ${percent(s.replicaHoursRatio - 1)} | ${percent(s.worstReplicaHoursRatio - 1)} | ${s.tracesAtMostReference} of ${s.traces} | ${s.meetsTarget ? 'yes' : 'no'} | ${percent(-s.leaveOneOut.fewerMinutes)} (without ${s.leaveOneOut.without.split('/')[1] ?? s.leaveOneOut.without}) |\n`,
      );
    }
    for (const family of ['hpa', 'sloth'] as const) {
      const { fewerAtPlus10, hoursAt60 } = crossings(rows.filter((s) => s.family === family));
      process.stdout.write(
        `\n${family === 'hpa' ? 'HPA over its utilisations' : "Sloth over its budgets"}: at +10 % replica-hours ${fewerAtPlus10 === null ? 'not spanned by these points' : `${percent(-fewerAtPlus10)} minutes`}; −60 % minutes ${hoursAt60 === null ? 'not spanned by these points' : `at ${percent(hoursAt60 - 1)} replica-hours`} (linear between neighbouring points)`,
      );
    }
    process.stdout.write('\n');
  }
}
