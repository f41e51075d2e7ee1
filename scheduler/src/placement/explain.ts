import { filterReasons, type PlacementDecision } from './placer.js';

/** A term of a sum as read aloud: "+ 0.304", "- 1.000" (never "+ -1.000"). */
function signed(value: number): string {
  return value < 0 ? `- ${(-value).toFixed(3)}` : `+ ${value.toFixed(3)}`;
}

/** A placement decision as lines of text: the verdict, each filter with its agents, and each candidate's score broken down. */
export function formatDecision(decision: PlacementDecision): string[] {
  const lines = [decision.explanation, `strategy ${decision.strategy}, ${decision.evaluated} agent${decision.evaluated === 1 ? '' : 's'} evaluated`];
  for (const reason of filterReasons) {
    const entry = decision.filtered[reason];
    if (entry === undefined) continue;
    const more = entry.count > entry.agents.length ? ` and ${entry.count - entry.agents.length} more` : '';
    const by = reason === 'exhausted' ? ` (cpu ${decision.exhausted.cpuCores}, memory ${decision.exhausted.memoryMb})` : entry.detail === undefined ? '' : ` (${entry.detail})`;
    lines.push(`  filtered ${reason}${by}: ${entry.agents.join(', ')}${more}`);
  }
  if (decision.candidates.length > 0) lines.push('  candidates (score = strategy + load + affinity − retry penalty):');
  for (const c of decision.candidates) {
    lines.push(
      `    ${c.agentId}  ${c.total.toFixed(3)} = ${c.strategy.toFixed(3)} ${signed(c.load)} ${signed(c.affinity)} ${signed(-c.retryPenalty)}  (expected cpu load ${(c.expectedCpuLoad * 100).toFixed(1)}%)`,
    );
  }
  return lines;
}
