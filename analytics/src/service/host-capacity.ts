import { parseSeriesId, seriesId } from '@sloth/core';

/**
 * The capacity each host reports of itself, for floors in its own terms: a change of memory, swap or
 * a filesystem's bytes, or of a load average, may open an incident only when it is at least a share
 * of what the host has. `system.memory.usage` and `system.memory.utilization` are one quantity in
 * two units; with the fixed byte floor (32 MiB) and the utilization floor (5 points) a 24 GiB host
 * had two floors 40 times apart. With a capacity both are the same share.
 *
 * Read from the host's own series (the Sloth agent and the OpenTelemetry host metrics report them):
 * - memory: `system.memory.limit`;
 * - swap: the sum of `system.paging.usage` over its states (used + free);
 * - a filesystem: `system.filesystem.limit` with the usage series' labels less `state`;
 * - cores: the number of per-core `system.cpu.utilization{cpu=…}` series (a load average per core
 *   is the run queue's analogue of CPU utilization, so it takes the same share of the core count).
 * Until a host's capacity is seen, its floors are the fixed ones alone.
 */
export class HostCapacity {
  private readonly share: number;
  /** Per agent: memory bytes, swap bytes per state, core ids, filesystem bytes per labels key. */
  private readonly memory = new Map<string, number>();
  private readonly swap = new Map<string, Map<string, number>>();
  private readonly cores = new Map<string, Set<string>>();
  private readonly filesystems = new Map<string, number>();
  /** Per series (its state object): the series' role here, parsed once. */
  private readonly roles = new WeakMap<object, Role>();

  /** @param share the share of capacity a change must reach (0 turns capacity floors off). */
  constructor(share: number) {
    if (!(Number.isFinite(share) && share >= 0 && share <= 1)) throw new RangeError(`capacity share must be a number in [0, 1], got ${share}`);
    this.share = share;
  }

  /** Takes a scored value of a series (its raw value: every capacity series is a gauge or a non-monotonic sum). */
  observe(series: SeriesRef, value: number): void {
    if (this.share === 0 || !Number.isFinite(value)) return;
    const role = this.roleOf(series);
    switch (role.kind) {
      case 'memory-limit':
        this.memory.set(series.agentId, value);
        break;
      case 'swap-usage': {
        let states = this.swap.get(series.agentId);
        if (states === undefined) this.swap.set(series.agentId, (states = new Map()));
        states.set(role.key, value);
        break;
      }
      case 'filesystem-limit':
        this.filesystems.set(`${series.agentId}\u0000${role.key}`, value);
        break;
      case 'core': {
        let ids = this.cores.get(series.agentId);
        if (ids === undefined) this.cores.set(series.agentId, (ids = new Set()));
        if (ids.size < 100_000) ids.add(role.key);
        break;
      }
      default:
        break;
    }
  }

  /** The capacity floor of a series (0 when it has none or its host's capacity is not known yet). */
  floorOf(series: SeriesRef): number {
    if (this.share === 0) return 0;
    const role = this.roleOf(series);
    let capacity: number | undefined;
    switch (role.kind) {
      case 'memory-usage':
        capacity = this.memory.get(series.agentId);
        break;
      case 'swap-usage': {
        const states = this.swap.get(series.agentId);
        capacity = states === undefined ? undefined : [...states.values()].reduce((a, b) => a + b, 0);
        break;
      }
      case 'filesystem-usage':
        capacity = this.filesystems.get(`${series.agentId}\u0000${role.key}`);
        break;
      case 'load-average':
        capacity = this.cores.get(series.agentId)?.size;
        break;
      default:
        capacity = undefined;
    }
    return capacity !== undefined && capacity > 0 ? this.share * capacity : 0;
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

/** What the capacity needs of a series: its state object (identity), id, metric and agent. */
export interface SeriesRef {
  readonly seriesId: string;
  readonly metric: string;
  readonly agentId: string;
}

type Role =
  | { kind: 'memory-limit' | 'memory-usage' | 'load-average' | 'none' }
  | { kind: 'swap-usage' | 'filesystem-limit' | 'filesystem-usage' | 'core'; key: string };

function roleOf(metric: string, id: string): Role {
  switch (metric) {
    case 'system.memory.limit':
      return { kind: 'memory-limit' };
    case 'system.memory.usage':
      return { kind: 'memory-usage' };
    case 'system.paging.usage':
      return { kind: 'swap-usage', key: labelsOf(id)?.state ?? '' };
    case 'system.filesystem.limit':
    case 'system.filesystem.usage': {
      const labels = labelsOf(id);
      if (labels === undefined) return { kind: 'none' };
      const device = { ...labels };
      delete device.state;
      return { kind: metric === 'system.filesystem.limit' ? 'filesystem-limit' : 'filesystem-usage', key: seriesId('', device) };
    }
    case 'system.cpu.utilization': {
      const cpu = labelsOf(id)?.cpu;
      return cpu === undefined ? { kind: 'none' } : { kind: 'core', key: cpu };
    }
    default:
      return metric.startsWith('system.cpu.load_average.') ? { kind: 'load-average' } : { kind: 'none' };
  }
}

function labelsOf(id: string): Record<string, string> | undefined {
  try {
    return parseSeriesId(id).labels;
  } catch {
    return undefined;
  }
}
