import { readFile, readdir } from 'node:fs/promises';
import os from 'node:os';
import si from 'systeminformation';

/** CPU utilisation in [0, 1] since the previous sample. */
export interface CpuSnapshot {
  readonly utilization: number;
  readonly perCore: readonly number[];
  readonly coreCount: number;
}

export interface MemorySnapshot {
  readonly totalBytes: number;
  readonly usedBytes: number;
  readonly availableBytes: number;
  readonly freeBytes: number;
  readonly buffersBytes: number;
  readonly cachedBytes: number;
  /** used / total */
  readonly utilization: number;
  readonly swapTotalBytes: number;
  readonly swapUsedBytes: number;
}

export interface FilesystemSnapshot {
  readonly device: string;
  readonly mountpoint: string;
  readonly type: string;
  readonly totalBytes: number;
  readonly usedBytes: number;
  readonly freeBytes: number;
}

/** Cumulative counters since boot. */
export interface DiskSnapshot {
  readonly device: string;
  readonly readBytes: number;
  readonly writeBytes: number;
  readonly readOps: number;
  readonly writeOps: number;
}

/** Cumulative counters since boot. */
export interface NetworkSnapshot {
  readonly device: string;
  readonly rxBytes: number;
  readonly txBytes: number;
  readonly rxPackets: number;
  readonly txPackets: number;
  readonly rxErrors: number;
  readonly txErrors: number;
  readonly rxDropped: number;
  readonly txDropped: number;
}

export interface HostSnapshot {
  readonly timestampMillis: number;
  readonly cpu: CpuSnapshot;
  readonly memory: MemorySnapshot;
  readonly filesystems: readonly FilesystemSnapshot[];
  readonly disks: readonly DiskSnapshot[];
  readonly networks: readonly NetworkSnapshot[];
  readonly loadAverage: readonly [number, number, number];
  readonly processCount: number;
  readonly uptimeSeconds: number;
}

interface CpuTimes {
  readonly busy: number;
  readonly total: number;
}

function cpuTimes(): CpuTimes[] {
  return os.cpus().map((c) => {
    const t = c.times;
    const total = t.user + t.nice + t.sys + t.idle + t.irq;
    return { busy: total - t.idle, total };
  });
}

function ratio(busy: number, total: number): number {
  if (total <= 0) return 0;
  return Math.min(1, Math.max(0, busy / total));
}

/** Filesystems that hold no user data. */
const pseudoFilesystems = new Set(['squashfs', 'tmpfs', 'devtmpfs', 'overlay', 'proc', 'sysfs', 'cgroup', 'cgroup2', 'nsfs', 'ramfs']);

/**
 * Reads the host's state. Cheap sources first: `/proc` on Linux (one file
 * read per family), `os` for CPU times and load; `systeminformation` for
 * memory, filesystems (cached: `df` is a process spawn) and as the fallback
 * on other platforms. CPU utilisation is the busy share of CPU time between
 * two samples, so the first sample reports the average since boot.
 */
export class HostSampler {
  private previousCpu: CpuTimes[] = cpuTimes();
  private filesystems: { atMillis: number; value: FilesystemSnapshot[] } | undefined;
  private processCount: { atMillis: number; value: number } | undefined;
  private lastSnapshot: HostSnapshot | undefined;
  private readonly linux = process.platform === 'linux';

  /** @param slowRefreshMillis how often slow sources (filesystems, process list off Linux) are refreshed. @defaultValue 30000 */
  constructor(private readonly slowRefreshMillis = 30_000) {}

  /** The last snapshot, if any was taken. */
  latest(): HostSnapshot | undefined {
    return this.lastSnapshot;
  }

  /** Takes a snapshot now. */
  async sample(): Promise<HostSnapshot> {
    const now = Date.now();
    const [memory, filesystems, disks, networks, processCount] = await Promise.all([
      this.memory(),
      this.filesystemsCached(now),
      this.disks(),
      this.networks(),
      this.processes(now),
    ]);
    const loads = os.loadavg();
    const snapshot: HostSnapshot = {
      timestampMillis: now,
      cpu: this.cpu(),
      memory,
      filesystems,
      disks,
      networks,
      loadAverage: [loads[0] ?? 0, loads[1] ?? 0, loads[2] ?? 0],
      processCount,
      uptimeSeconds: os.uptime(),
    };
    this.lastSnapshot = snapshot;
    return snapshot;
  }

  /** CPU since the previous call (of this or {@link sample}). */
  cpu(): CpuSnapshot {
    const current = cpuTimes();
    const perCore = current.map((c, i) => {
      const p = this.previousCpu[i];
      return p === undefined ? ratio(c.busy, c.total) : ratio(c.busy - p.busy, c.total - p.total);
    });
    let busy = 0;
    let total = 0;
    current.forEach((c, i) => {
      const p = this.previousCpu[i] ?? { busy: 0, total: 0 };
      busy += c.busy - p.busy;
      total += c.total - p.total;
    });
    this.previousCpu = current;
    return { utilization: ratio(busy, total), perCore, coreCount: current.length };
  }

  private async memory(): Promise<MemorySnapshot> {
    const m = await si.mem();
    const totalBytes = os.totalmem();
    // "used" as in free(1): total - available, so caches that can be reclaimed do not count.
    const availableBytes = m.available;
    const usedBytes = Math.max(0, totalBytes - availableBytes);
    return {
      totalBytes,
      usedBytes,
      availableBytes,
      freeBytes: m.free,
      buffersBytes: m.buffers,
      cachedBytes: m.cached,
      utilization: ratio(usedBytes, totalBytes),
      swapTotalBytes: m.swaptotal,
      swapUsedBytes: m.swapused,
    };
  }

  private async filesystemsCached(now: number): Promise<FilesystemSnapshot[]> {
    if (this.filesystems !== undefined && now - this.filesystems.atMillis < this.slowRefreshMillis) return this.filesystems.value;
    let value: FilesystemSnapshot[] = [];
    try {
      value = (await si.fsSize())
        .filter((f) => !pseudoFilesystems.has(f.type) && f.size > 0)
        .map((f) => ({
          device: f.fs,
          mountpoint: f.mount,
          type: f.type,
          totalBytes: f.size,
          usedBytes: f.used,
          freeBytes: Math.max(0, f.available),
        }));
    } catch {
      value = this.filesystems?.value ?? [];
    }
    this.filesystems = { atMillis: now, value };
    return value;
  }

  private async disks(): Promise<DiskSnapshot[]> {
    if (!this.linux) {
      const d = await si.disksIO().catch(() => null);
      // systeminformation reports operations only, summed over devices.
      return d === null ? [] : [{ device: 'all', readBytes: 0, writeBytes: 0, readOps: d.rIO, writeOps: d.wIO }];
    }
    const text = await readFile('/proc/diskstats', 'utf8').catch(() => '');
    const disks: DiskSnapshot[] = [];
    let blockDevices: Set<string>;
    try {
      blockDevices = new Set(await readdir('/sys/block'));
    } catch {
      blockDevices = new Set();
    }
    for (const line of text.split('\n')) {
      const f = line.trim().split(/\s+/);
      const name = f[2];
      if (name === undefined || f.length < 14) continue;
      // Whole devices only (partitions would double count); no loop or ram devices.
      if (!blockDevices.has(name) || /^(loop|ram|zram)/.test(name)) continue;
      disks.push({
        device: name,
        readOps: Number(f[3]),
        readBytes: Number(f[5]) * 512,
        writeOps: Number(f[7]),
        writeBytes: Number(f[9]) * 512,
      });
    }
    return disks;
  }

  private async networks(): Promise<NetworkSnapshot[]> {
    if (!this.linux) {
      const stats = await si.networkStats('*').catch(() => []);
      return stats.map((n) => ({
        device: n.iface,
        rxBytes: n.rx_bytes,
        txBytes: n.tx_bytes,
        rxPackets: 0,
        txPackets: 0,
        rxErrors: n.rx_errors,
        txErrors: n.tx_errors,
        rxDropped: n.rx_dropped,
        txDropped: n.tx_dropped,
      }));
    }
    const text = await readFile('/proc/net/dev', 'utf8').catch(() => '');
    const networks: NetworkSnapshot[] = [];
    for (const line of text.split('\n').slice(2)) {
      const colon = line.indexOf(':');
      if (colon < 0) continue;
      const device = line.slice(0, colon).trim();
      const f = line.slice(colon + 1).trim().split(/\s+/).map(Number);
      if (f.length < 16) continue;
      networks.push({
        device,
        rxBytes: f[0]!,
        rxPackets: f[1]!,
        rxErrors: f[2]!,
        rxDropped: f[3]!,
        txBytes: f[8]!,
        txPackets: f[9]!,
        txErrors: f[10]!,
        txDropped: f[11]!,
      });
    }
    return networks;
  }

  private async processes(now: number): Promise<number> {
    if (this.linux) {
      try {
        return (await readdir('/proc')).filter((n) => /^\d+$/.test(n)).length;
      } catch {
        return 0;
      }
    }
    // systeminformation's process list costs ~175 ms: refresh it rarely.
    if (this.processCount !== undefined && now - this.processCount.atMillis < this.slowRefreshMillis) return this.processCount.value;
    const value = (await si.processes().catch(() => ({ all: 0 }))).all;
    this.processCount = { atMillis: now, value };
    return value;
  }
}
