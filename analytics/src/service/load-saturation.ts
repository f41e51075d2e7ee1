import { parseSeriesId } from '@sloth/core';

type Role = { kind: 'core'; cpu: string } | { kind: 'load' } | { kind: 'none' };

/** What the gate needs of a series: its state object (identity), id, metric and agent. */
export interface SeriesRef {
  readonly seriesId: string;
  readonly metric: string;
  readonly agentId: string;
}

/**
 * Load averages open incidents only at saturation (analytics `loadSaturationPerCore`): a
 * `system.cpu.load_average.*` series may open one only while its value is at least `perCore` tasks per
 * core of its host. A load average counts tasks running or waiting to run (on Linux also those in
 * uninterruptible sleep); below one per core nothing had to wait for a CPU on average, so a quiet host's
 * load moving between 0.05 and 0.8 is not an incident, while a CPU-bound overload or a storage hang
 * piling up tasks is. The core count is the number of per-core `system.cpu.utilization{cpu=…}` series the
 * host's agent sends (the Sloth agent and the OpenTelemetry host metrics report one per core); until one
 * is seen a host counts as one core. Open incidents are not affected (bench/live/README-rule.md, round 4).
 */
export class LoadSaturation {
  private readonly perCore: number;
  /** Per agent: the `cpu` labels of its per-core CPU series. */
  private readonly cores = new Map<string, Set<string>>();
  /** Per series (its state object): what it is here, parsed once. */
  private readonly roles = new WeakMap<object, Role>();

  /** @param perCore tasks per core a load average must reach to open an incident (0: no gate). */
  constructor(perCore: number) {
    if (!(Number.isFinite(perCore) && perCore >= 0)) throw new RangeError(`loadSaturationPerCore must be a finite number ≥ 0, got ${perCore}`);
    this.perCore = perCore;
  }

  /** Takes note of a series that sent a value (a per-core CPU series adds its core to its host's count). */
  observe(series: SeriesRef): void {
    if (this.perCore === 0) return;
    const role = this.roleOf(series);
    if (role.kind !== 'core') return;
    let cpus = this.cores.get(series.agentId);
    if (cpus === undefined) {
      // Bounded like every per-agent map: a flood of agent ids must not grow it without end.
      if (this.cores.size >= 100_000) return;
      this.cores.set(series.agentId, (cpus = new Set()));
    }
    if (cpus.size < 100_000) cpus.add(role.cpu);
  }

  /** Whether `value` of this series may open an incident: always, except a load average below saturation. */
  mayOpen(series: SeriesRef, value: number): boolean {
    if (this.perCore === 0 || this.roleOf(series).kind !== 'load') return true;
    return value >= this.perCore * Math.max(1, this.cores.get(series.agentId)?.size ?? 0);
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

function roleOf(metric: string, seriesId: string): Role {
  if (metric.startsWith('system.cpu.load_average.')) return { kind: 'load' };
  if (metric !== 'system.cpu.utilization') return { kind: 'none' };
  let cpu: string | undefined;
  try {
    cpu = parseSeriesId(seriesId).labels.cpu;
  } catch {
    cpu = undefined;
  }
  return cpu === undefined ? { kind: 'none' } : { kind: 'core', cpu };
}
