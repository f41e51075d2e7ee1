import { globRegExp } from './glob.js';

/**
 * The smallest change, in a metric's own units, that may open an incident. A detector measures
 * surprise against the series' own noise, so a series that sat at exactly 0 (an idle NIC, an idle
 * disk) scores 1 for any traffic at all: 300 KB/s on a 1 Gbit/s link is "infinitely" surprising and
 * of no interest to anyone. The floor is set a priori from the unit and capacity of each family of
 * host metrics (OpenTelemetry semantic conventions, as the Sloth agent reports them), not from any
 * benchmark: about 1 % of the capacity of a small host or device.
 *
 * Rates are per second (monotonic sums are scored as rates). A metric that matches no pattern has no
 * floor: a custom metric's unit is not known here.
 */
export const defaultMinChange: Readonly<Record<string, number>> = Object.freeze({
  // Unit 1, a fraction of capacity (CPU, memory, paging, filesystem): 5 percentage points.
  '*.utilization': 0.05,
  // Seconds per second (busy time of a CPU or a disk): the same 5 % of one device.
  'system.cpu.time': 0.05,
  'system.disk.io_time': 0.05,
  'system.disk.operation_time': 0.05,
  // Bytes per second: 1 MiB/s, under 1 % of a 1 Gbit/s link or of one disk's sequential throughput.
  'system.network.io': 1_048_576,
  'system.disk.io': 1_048_576,
  // Packets per second: 1 MiB/s of ~1 KiB packets.
  'system.network.packets': 1_000,
  // Disk operations per second: 1 % of an SSD's ~10,000 IOPS (all of a spinning disk's ~100).
  'system.disk.operations': 100,
  // Bytes held in memory or swap: 32 MiB, under 1 % of a 4 GiB host.
  'system.memory.usage': 33_554_432,
  'system.paging.usage': 33_554_432,
  // Bytes on a filesystem: 100 MiB, 1 % of a small cloud root volume (8–10 GiB). A git checkout, a
  // package install or a log flush moves a root filesystem by tens of MiB; a disk filling does not stop
  // there. (Round 6 of bench/live/README-rule.md: an idle run's 68.7 MiB step prompted the review.)
  'system.filesystem.usage': 104_857_600,
  // Processes: 20. A host runs a few hundred; 1 % of that is crossed by every login, cron job or build
  // step, while what a human acts on (a leak, a fork storm) adds hundreds. (Set after an idle run showed
  // 94 → 97 processes opening an incident; the value itself is this reasoning, not fitted.)
  'system.process.count': 20,
});

/** Which floor applies to a metric: the first matching pattern's, in the order given. */
export class ChangeFloor {
  private readonly rules: readonly { pattern: RegExp; minChange: number }[];
  private readonly byMetric = new Map<string, number>();

  constructor(minChange: Readonly<Record<string, number>>) {
    this.rules = Object.entries(minChange).map(([metric, min]) => {
      if (!(Number.isFinite(min) && min >= 0)) throw new RangeError(`minimum change for ${JSON.stringify(metric)} must be a finite number ≥ 0, got ${min}`);
      return { pattern: globRegExp(metric), minChange: min };
    });
  }

  /** The smallest change of `metric` that may open an incident (0: any). */
  of(metric: string): number {
    let floor = this.byMetric.get(metric);
    if (floor === undefined) {
      floor = this.rules.find((rule) => rule.pattern.test(metric))?.minChange ?? 0;
      if (this.byMetric.size < 100_000) this.byMetric.set(metric, floor);
    }
    return floor;
  }
}
