import { parseSeriesId } from '@sloth/core';

type Role = { kind: 'core'; cpu: string } | { kind: 'load' } | { kind: 'none' };

/**
 * A floor for load averages in the host's own terms (analytics `loadFloorPerCore`): a change of a
 * `system.cpu.load_average.*` series may open an incident only when it is at least `perCore` times the
 * host's core count. A load average per core is the run queue's analogue of CPU utilization, so it takes
 * the share the utilization floors use. The core count is the number of per-core
 * `system.cpu.utilization{cpu=…}` series the agent has sent (the Sloth agent and the OpenTelemetry host
 * metrics report one per core); until one is seen a host counts as one core. No byte floor is derived
 * from capacity: on a drift's 30 s shift such floors blinded slow leaks (bench/live/README-rule.md, round 2).
 */
export class LoadFloor {
  private readonly perCore: number;
  /** Per agent: the per-core CPU series' `cpu` labels seen. */
  private readonly cores = new Map<string, Set<string>>();
  /** Per series (its state object): what it is here, parsed once. */
  private readonly roles = new WeakMap<object, Role>();

  /** @param perCore floor per core (0 turns the floor off). */
  constructor(perCore: number) {
    if (!(Number.isFinite(perCore) && perCore >= 0)) throw new RangeError(`load floor per core must be a finite number ≥ 0, got ${perCore}`);
    this.perCore = perCore;
  }

  /** Takes note of a series that sent a value (a per-core CPU series adds its core to its host's count). */
  observe(series: SeriesRef): void {
    if (this.perCore === 0) return;
    const role = this.roleOf(series);
    if (role.kind !== 'core') return;
    let ids = this.cores.get(series.agentId);
    if (ids === undefined) {
      if (this.cores.size >= 100_000) return;
      this.cores.set(series.agentId, (ids = new Set()));
    }
    if (ids.size < 100_000) ids.add(role.cpu);
  }

  /** The floor of a series' change: `perCore` × its host's cores for a load average, else 0. */
  floorOf(series: SeriesRef): number {
    if (this.perCore === 0 || this.roleOf(series).kind !== 'load') return 0;
    return this.perCore * Math.max(1, this.cores.get(series.agentId)?.size ?? 0);
  }

  private roleOf(series: SeriesRef): Role {
    let role = this.roles.get(series);
    if (role === undefined) {
      role = roleOf(series.metric, series.seriesId);
      this.roles.set(series, role);
    }
    return role;
  }
}

/** What the floor needs of a series: its state object (identity), id, metric and agent. */
export interface SeriesRef {
  readonly seriesId: string;
  readonly metric: string;
  readonly agentId: string;
}

function roleOf(metric: string, id: string): Role {
  if (metric.startsWith('system.cpu.load_average.')) return { kind: 'load' };
  if (metric !== 'system.cpu.utilization') return { kind: 'none' };
  let cpu: string | undefined;
  try {
    cpu = parseSeriesId(id).labels.cpu;
  } catch {
    cpu = undefined;
  }
  return cpu === undefined ? { kind: 'none' } : { kind: 'core', cpu };
}
