/** How a task's candidates are ranked by fit. */
export const placementStrategies = ['bin-pack', 'spread'] as const;
export type PlacementStrategy = (typeof placementStrategies)[number];

/** One agent as placement sees it at decision time. */
export interface AgentSnapshot {
  readonly id: string;
  readonly up: boolean;
  readonly drained: boolean;
  readonly labels: Readonly<Record<string, string>>;
  readonly cpuCores: number;
  readonly memoryMb: number;
  /** Resources reserved by tasks placed on the agent and not finished. */
  reservedCpuCores: number;
  reservedMemoryMb: number;
  /** Tasks placed on the agent and not finished. */
  running: number;
  /** Tasks at once on this agent; the cluster default when absent. */
  readonly maxConcurrent?: number | undefined;
  /** Live CPU and memory utilisation, 0–1, and when they were measured. */
  readonly cpuUtilization?: number | undefined;
  readonly memoryUtilization?: number | undefined;
  readonly metricsAtMillis?: number | undefined;
  /** Highest forecast utilisation (p90) over the next 15 minutes, 0–1, from `sloth:forecasts`. */
  readonly forecastCpuUtilization?: number | undefined;
  readonly forecastMemoryUtilization?: number | undefined;
  /** CPU cores of tasks placed seconds ago whose load the metrics cannot show yet. */
  recentCpuCores: number;
}

/** A weighted preference for (weight > 0) or against (weight < 0) agents with a label value. */
export interface Affinity {
  readonly label: string;
  readonly value: string;
  /** −100…100. */
  readonly weight: number;
}

/** What a task asks of placement. */
export interface PlacementRequest {
  readonly cpuCores: number;
  readonly memoryMb: number;
  /** Labels an agent must carry, with these values. */
  readonly constraints: Readonly<Record<string, string>>;
  readonly affinities: readonly Affinity[];
  /** Overrides the cluster default. */
  readonly strategy?: PlacementStrategy | undefined;
  /** Agents an earlier attempt ran on: still allowed, scored lower. */
  readonly avoidAgents?: readonly string[] | undefined;
}

export interface PlacementSettings {
  /** @defaultValue `bin-pack` */
  readonly defaultStrategy: PlacementStrategy;
  /** Metrics older than this are not trusted and the agent is filtered out. */
  readonly maxMetricsAgeMillis: number;
  /** Tasks at once on one agent, unless the agent says otherwise. */
  readonly maxConcurrentPerAgent: number;
  /** Weights of the score terms. @defaultValue strategy 1, load 1, affinity 1, retry 0.5 */
  readonly weights?: Partial<ScoreWeights>;
  /** Candidates whose breakdown the decision keeps. @defaultValue 5 */
  readonly explainTop?: number;
}

export interface ScoreWeights {
  strategy: number;
  load: number;
  affinity: number;
  retry: number;
}

export const filterReasons = ['down', 'drained', 'constraint', 'stale-metrics', 'concurrency', 'exhausted'] as const;
export type FilterReason = (typeof filterReasons)[number];

export interface CandidateScore {
  agentId: string;
  total: number;
  /** Fit after placement (bin-pack: fuller is better; spread: emptier is better), 0–1. */
  strategy: number;
  /** 1 − the load expected on the agent (live or forecast, whichever is higher, plus recent placements and this task), 0–1. */
  load: number;
  /** Sum of matching affinity weights / 100, −1…1. */
  affinity: number;
  /** Penalty for an agent an earlier attempt ran on. */
  retryPenalty: number;
  /** The expected CPU load used for `load`, for the explanation. */
  expectedCpuLoad: number;
}

/** A placement decision and everything needed to explain it. */
export interface PlacementDecision {
  agentId: string | null;
  strategy: PlacementStrategy;
  evaluated: number;
  /** Agents filtered out, by reason: how many and the first few ids. */
  filtered: Partial<Record<FilterReason, { count: number; agents: string[]; detail?: string }>>;
  /** Among `exhausted`: how many lacked each resource. */
  exhausted: { cpuCores: number; memoryMb: number };
  /** The best candidates, best first, with their score broken down. */
  candidates: CandidateScore[];
  /** One sentence: where and why, or why nowhere. */
  explanation: string;
}

const defaultWeights: ScoreWeights = { strategy: 1, load: 1, affinity: 1, retry: 0.5 };

function clamp01(value: number): number {
  return value < 0 ? 0 : value > 1 ? 1 : value;
}

/**
 * Places one task: filters agents that cannot take it, scores the rest, picks
 * the best. Pure and allocation-light (explanations keep counts, a few ids
 * per reason and the top candidates), so it stays cheap over thousands of
 * agents. The caller reserves on the chosen agent and retries on a lost race.
 */
export function placeTask(request: PlacementRequest, agents: readonly AgentSnapshot[], settings: PlacementSettings, nowMillis: number): PlacementDecision {
  const strategy = request.strategy ?? settings.defaultStrategy;
  const weights = { ...defaultWeights, ...settings.weights };
  const top = settings.explainTop ?? 5;
  const filtered: PlacementDecision['filtered'] = {};
  const exhausted = { cpuCores: 0, memoryMb: 0 };
  const candidates: CandidateScore[] = [];
  const constraintEntries = Object.entries(request.constraints);
  const avoid = request.avoidAgents !== undefined && request.avoidAgents.length > 0 ? new Set(request.avoidAgents) : undefined;
  let affinityScale = 0;
  for (const a of request.affinities) affinityScale += Math.abs(a.weight);
  affinityScale = Math.max(100, affinityScale);

  const reject = (reason: FilterReason, agentId: string, detail?: string): void => {
    let entry = filtered[reason];
    if (entry === undefined) {
      entry = { count: 0, agents: [] };
      if (detail !== undefined) entry.detail = detail;
      filtered[reason] = entry;
    }
    entry.count += 1;
    if (entry.agents.length < 5) entry.agents.push(agentId);
  };

  for (const agent of agents) {
    if (!agent.up) {
      reject('down', agent.id);
      continue;
    }
    if (agent.drained) {
      reject('drained', agent.id);
      continue;
    }
    let missing: string | undefined;
    for (const [key, value] of constraintEntries) {
      if (agent.labels[key] !== value) {
        missing = `${key}=${value}`;
        break;
      }
    }
    if (missing !== undefined) {
      reject('constraint', agent.id, `needs label ${missing}`);
      continue;
    }
    if (agent.metricsAtMillis === undefined || nowMillis - agent.metricsAtMillis > settings.maxMetricsAgeMillis) {
      reject('stale-metrics', agent.id, `no metrics within ${Math.round(settings.maxMetricsAgeMillis / 1000)} s`);
      continue;
    }
    const maxConcurrent = agent.maxConcurrent ?? settings.maxConcurrentPerAgent;
    if (agent.running >= maxConcurrent) {
      reject('concurrency', agent.id, `at ${maxConcurrent} tasks`);
      continue;
    }
    const freeCpu = agent.cpuCores - agent.reservedCpuCores;
    const freeMemory = agent.memoryMb - agent.reservedMemoryMb;
    const noCpu = request.cpuCores > freeCpu + 1e-9;
    const noMemory = request.memoryMb > freeMemory + 1e-9;
    if (noCpu || noMemory) {
      if (noCpu) exhausted.cpuCores += 1;
      if (noMemory) exhausted.memoryMb += 1;
      reject('exhausted', agent.id);
      continue;
    }
    const fit = ((agent.reservedCpuCores + request.cpuCores) / agent.cpuCores + (agent.reservedMemoryMb + request.memoryMb) / agent.memoryMb) / 2;
    const strategyScore = strategy === 'bin-pack' ? clamp01(fit) : clamp01(1 - fit);
    // Load the agent will carry: what it does now or is forecast to do (whichever is higher),
    // plus tasks placed too recently to show in the metrics, plus this task.
    const cpuNow = Math.max(agent.cpuUtilization ?? 0, agent.forecastCpuUtilization ?? 0);
    const expectedCpuLoad = cpuNow + (agent.recentCpuCores + request.cpuCores) / agent.cpuCores;
    const memoryNow = Math.max(agent.memoryUtilization ?? 0, agent.forecastMemoryUtilization ?? 0) + request.memoryMb / agent.memoryMb;
    const load = clamp01(1 - Math.max(expectedCpuLoad, memoryNow));
    let affinity = 0;
    for (const a of request.affinities) if (agent.labels[a.label] === a.value) affinity += a.weight;
    affinity /= affinityScale;
    const retryPenalty = avoid?.has(agent.id) === true ? weights.retry : 0;
    const total = weights.strategy * strategyScore + weights.load * load + weights.affinity * affinity - retryPenalty;
    insertTop(candidates, { agentId: agent.id, total, strategy: strategyScore, load, affinity, retryPenalty, expectedCpuLoad }, top);
  }
  const chosen = candidates[0];
  // The kept breakdown is rounded to 6 decimals: as exact as anyone reads it, and a task record
  // holding it is stored and re-read per run (a full double is ~18 characters, slow to print and parse).
  for (const c of candidates) {
    c.total = round6(c.total);
    c.strategy = round6(c.strategy);
    c.load = round6(c.load);
    c.affinity = round6(c.affinity);
    c.expectedCpuLoad = round6(c.expectedCpuLoad);
  }
  return { agentId: chosen?.agentId ?? null, strategy, evaluated: agents.length, filtered, exhausted, candidates, explanation: explain(request, agents.length, filtered, exhausted, chosen, strategy) };
}

function round6(value: number): number {
  return Math.round(value * 1e6) / 1e6;
}

/** Keeps `list` as the best `size` scores, best first (ties: the earlier agent). */
function insertTop(list: CandidateScore[], score: CandidateScore, size: number): void {
  if (list.length >= size && score.total <= (list[list.length - 1] as CandidateScore).total) return;
  let index = list.length;
  while (index > 0 && score.total > (list[index - 1] as CandidateScore).total) index -= 1;
  list.splice(index, 0, score);
  if (list.length > size) list.pop();
}

function explain(
  request: PlacementRequest,
  evaluated: number,
  filtered: PlacementDecision['filtered'],
  exhausted: PlacementDecision['exhausted'],
  chosen: CandidateScore | undefined,
  strategy: PlacementStrategy,
): string {
  const parts = filterReasons.flatMap((reason) => {
    const entry = filtered[reason];
    if (entry === undefined) return [];
    if (reason === 'exhausted') {
      const by = [exhausted.cpuCores > 0 ? `cpu ${exhausted.cpuCores}` : '', exhausted.memoryMb > 0 ? `memory ${exhausted.memoryMb}` : ''].filter((s) => s !== '').join(', ');
      return [`${entry.count} exhausted (${by})`];
    }
    return [`${entry.count} ${reason}${entry.detail === undefined ? '' : ` (${entry.detail})`}`];
  });
  const filters = parts.length === 0 ? 'none filtered' : `filtered: ${parts.join('; ')}`;
  if (chosen === undefined) {
    return `no agent fits ${request.cpuCores} cpu cores and ${request.memoryMb} MB among ${evaluated} evaluated (${filters}); the task waits until one does`;
  }
  return `placed on ${chosen.agentId} (${strategy}, score ${chosen.total.toFixed(3)}) among ${evaluated} evaluated (${filters})`;
}
