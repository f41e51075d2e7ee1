import type { Redis } from 'ioredis';
import { forecastMessageSchema, type LatestPoint, type QueryClient, type RedisKeys } from '@sloth/core';
import type { AgentSnapshot } from './placer.js';
import type { Reservation, ReservationLedger } from './reservations.js';

/** What the collector knows about one agent: capacity, labels, liveness and utilisation. */
export interface AgentFacts {
  id: string;
  up: boolean;
  labels: Record<string, string>;
  cpuCores: number;
  memoryMb: number;
  cpuUtilization?: number | undefined;
  memoryUtilization?: number | undefined;
  metricsAtMillis?: number | undefined;
}

export interface InventoryOptions {
  collector: QueryClient;
  ledger: ReservationLedger;
  /** Connection for reading `sloth:forecasts` (not a blocking one). */
  redis: Redis;
  keys: RedisKeys;
  /** A snapshot this young is reused. @defaultValue 1000 */
  refreshMillis?: number;
  /** A snapshot older than `refreshMillis` but younger than this serves placement while a new one loads. @defaultValue 10 × refreshMillis */
  maxStaleMillis?: number;
  /** Tasks placed within this long count as load the metrics do not show yet. @defaultValue 30000 */
  metricsLagMillis?: number;
  /** How far ahead forecasts count. @defaultValue 15 minutes */
  forecastHorizonMillis?: number;
  /** Forecast entries read from the stream per refresh at most (the first refresh reads back this many; later ones only what is new). @defaultValue 5000 */
  forecastScan?: number;
  now?: () => number;
}

/** The CPU utilisation of an agent from its latest points (a total point, else 1 − mean idle over CPUs). */
function cpuUtilization(points: readonly LatestPoint[]): { value: number; atMillis: number } | undefined {
  const total = points.find((p) => p.labels.cpu === undefined && p.labels.state === undefined && p.v !== null);
  if (total !== undefined) return { value: total.v as number, atMillis: total.t };
  const idle = points.filter((p) => p.labels.state === 'idle' && p.v !== null);
  if (idle.length === 0) return undefined;
  return { value: 1 - idle.reduce((sum, p) => sum + (p.v as number), 0) / idle.length, atMillis: Math.max(...idle.map((p) => p.t)) };
}

function groupByAgent(points: readonly LatestPoint[]): Map<string, LatestPoint[]> {
  const map = new Map<string, LatestPoint[]>();
  for (const point of points) {
    const list = map.get(point.agentId);
    if (list === undefined) map.set(point.agentId, [point]);
    else list.push(point);
  }
  return map;
}

/**
 * Agents as placement sees them: capacity, labels and liveness from the
 * collector's query API (`sloth.agent.cpu.count`, `sloth.agent.memory.total`,
 * `sloth.agent.label.*` attributes; `system.cpu.utilization`,
 * `system.memory.utilization` latest points), the next 15 minutes from
 * analytics' forecasts on `sloth:forecasts`, and reservations from the
 * shared ledger. Snapshots are cached for `refreshMillis`; a placement made
 * through this process is applied to the cached snapshot at once.
 */
export class AgentInventory {
  private readonly options: InventoryOptions;
  private snapshot: AgentSnapshot[] = [];
  private byId = new Map<string, AgentSnapshot>();
  private takenAtMillis = Number.NEGATIVE_INFINITY;
  private refreshing: Promise<AgentSnapshot[]> | undefined;
  /** The newest forecast entry read so far, and the newest forecast of each agent-level series. */
  private forecastCursor: string | undefined;
  private readonly latestForecasts = new Map<string, { agentId: string; kind: 'cpu' | 'memory'; stepMillis: number; points: Array<{ atMillis: number; p90: number }> }>();
  /**
   * Drains and undrains made through this process since the refresh that will read them: applied to
   * the cached picture at once, and over a refresh that started before them (its read of the drained
   * set may predate the change).
   */
  private readonly drainChanges = new Map<string, { drained: boolean; atMillis: number }>();
  /** Why the last refresh failed (the collector unreachable …), for explanations. */
  lastError: string | undefined;

  constructor(options: InventoryOptions) {
    this.options = options;
  }

  private now(): number {
    return (this.options.now ?? Date.now)();
  }

  /**
   * The current snapshot, refreshed when older than `refreshMillis` (or when `force`). Until
   * the snapshot is `maxStaleMillis` old, a refresh runs in the background and callers place on
   * the picture they have, so a submission never waits on the collector (reservations are checked
   * against capacity in Redis anyway); `force` waits for the new picture.
   */
  async agents(force = false): Promise<AgentSnapshot[]> {
    const ageMillis = this.now() - this.takenAtMillis;
    const refreshMillis = this.options.refreshMillis ?? 1000;
    if (!force && ageMillis < refreshMillis) return this.snapshot;
    const refreshing = (this.refreshing ??= this.refresh().finally(() => {
      this.refreshing = undefined;
    }));
    if (force || ageMillis >= (this.options.maxStaleMillis ?? 10 * refreshMillis)) return refreshing;
    void refreshing.catch((error: unknown) => {
      this.lastError = (error as Error).message;
    });
    return this.snapshot;
  }

  get(agentId: string): AgentSnapshot | undefined {
    return this.byId.get(agentId);
  }

  /** Applies a drain or undrain this process just stored to the cached snapshot, so the next placement sees it. */
  applyDrain(agentId: string, drained: boolean): void {
    this.drainChanges.set(agentId, { drained, atMillis: this.now() });
    const agent = this.byId.get(agentId);
    if (agent === undefined || agent.drained === drained) return;
    const changed = { ...agent, drained };
    this.byId.set(agentId, changed);
    this.snapshot = this.snapshot.map((a) => (a.id === agentId ? changed : a));
  }

  /** Whether a refresh that started at `startedAtMillis` and read `stored` should show the agent drained. */
  private drainedAt(agentId: string, stored: ReadonlySet<string>, startedAtMillis: number): boolean {
    const change = this.drainChanges.get(agentId);
    if (change === undefined) return stored.has(agentId);
    if (change.atMillis < startedAtMillis) {
      this.drainChanges.delete(agentId); // this refresh read the drained set after the change
      return stored.has(agentId);
    }
    return change.drained;
  }

  /** Applies a reservation this process just made to the cached snapshot. */
  applyReservation(agentId: string, reservation: Reservation, sign: 1 | -1): void {
    const agent = this.byId.get(agentId);
    if (agent === undefined) return;
    agent.reservedCpuCores += sign * reservation.cpuCores;
    agent.reservedMemoryMb += sign * reservation.memoryMb;
    agent.running += sign;
    if (sign > 0) agent.recentCpuCores += reservation.cpuCores;
  }

  /** Collector facts about every agent (no reservations or forecasts). */
  async facts(): Promise<AgentFacts[]> {
    const client = this.options.collector;
    const [agents, cpu, memory] = await Promise.all([client.agents(), client.latest({ name: 'system.cpu.utilization' }), client.latest({ name: 'system.memory.utilization' })]);
    if (!agents.ok) throw new Error(`collector ${client.origin} answered /api/v1/agents with ${agents.kind}: ${agents.message}`);
    const cpuByAgent = groupByAgent(cpu.ok ? cpu.value : []);
    const memoryByAgent = groupByAgent(memory.ok ? memory.value : []);
    return agents.value.map((agent) => {
      const labels: Record<string, string> = {};
      for (const [key, value] of Object.entries(agent.attributes)) if (key.startsWith('sloth.agent.label.')) labels[key.slice('sloth.agent.label.'.length)] = value;
      const cpuPoint = cpuUtilization(cpuByAgent.get(agent.id) ?? []);
      const memoryPoint = (memoryByAgent.get(agent.id) ?? []).find((p) => p.labels.state === 'used' && p.v !== null);
      const atMillis = [cpuPoint?.atMillis, memoryPoint?.t].filter((t): t is number => t !== undefined);
      return {
        id: agent.id,
        up: agent.state === 'up',
        labels,
        cpuCores: Number(agent.attributes['sloth.agent.cpu.count'] ?? 0),
        memoryMb: Number(agent.attributes['sloth.agent.memory.total'] ?? 0) / (1024 * 1024),
        cpuUtilization: cpuPoint?.value,
        memoryUtilization: memoryPoint?.v ?? undefined,
        metricsAtMillis: atMillis.length === 0 ? undefined : Math.min(...atMillis),
      };
    });
  }

  /**
   * Highest p90 per agent and metric over the next horizon, from the newest forecast of each
   * series. Only entries added since the last call are read and decoded (at most `forecastScan`);
   * the newest forecast of each agent-level series is kept between calls until its points pass.
   */
  async forecasts(nowMillis: number): Promise<Map<string, { cpu?: number; memory?: number }>> {
    const since = this.forecastCursor === undefined ? '-' : `(${this.forecastCursor}`;
    const entries = (await this.options.redis.xrevrange(this.options.keys.forecasts, '+', since, 'COUNT', this.options.forecastScan ?? 5000)) as Array<[string, string[]]>;
    if (entries[0] !== undefined) this.forecastCursor = entries[0][0];
    const seen = new Set<string>();
    for (const [, fields] of entries) {
      const index = fields.indexOf('data');
      let data: unknown;
      try {
        data = index < 0 ? undefined : JSON.parse(fields[index + 1] ?? 'null');
      } catch {
        continue;
      }
      const parsed = forecastMessageSchema.safeParse(data);
      if (!parsed.success) continue;
      const message = parsed.data;
      const kind = message.metric === 'system.cpu.utilization' ? 'cpu' : message.metric === 'system.memory.utilization' ? 'memory' : undefined;
      if (kind === undefined || seen.has(message.seriesId)) continue;
      // Per-CPU and per-state series would double count: only the agent-level series shape the score.
      if (/[{,]cpu="/.test(message.seriesId) || (kind === 'memory' && !message.seriesId.includes('state="used"'))) continue;
      seen.add(message.seriesId);
      this.latestForecasts.set(message.seriesId, { agentId: message.agentId, kind, stepMillis: message.stepMillis, points: message.points.map((p) => ({ atMillis: p.timestampMillis, p90: p.p90 })) });
    }
    const result = new Map<string, { cpu?: number; memory?: number }>();
    const horizon = nowMillis + (this.options.forecastHorizonMillis ?? 15 * 60_000);
    for (const [seriesId, forecast] of this.latestForecasts) {
      let peak: number | undefined;
      let future = false;
      for (const point of forecast.points) {
        if (point.atMillis >= nowMillis) future = true;
        if (point.atMillis >= nowMillis - forecast.stepMillis && point.atMillis <= horizon) peak = Math.max(peak ?? Number.NEGATIVE_INFINITY, point.p90);
      }
      if (!future) this.latestForecasts.delete(seriesId); // every point passed: it says nothing more
      if (peak === undefined) continue;
      const entry = result.get(forecast.agentId) ?? {};
      entry[forecast.kind] = Math.max(entry[forecast.kind] ?? 0, peak);
      result.set(forecast.agentId, entry);
    }
    return result;
  }

  private async refresh(): Promise<AgentSnapshot[]> {
    const nowMillis = this.now();
    let facts: AgentFacts[];
    try {
      facts = await this.facts();
      this.lastError = undefined;
    } catch (error) {
      this.lastError = (error as Error).message;
      // Keep placing on the last known picture: its metrics age out through the stale filter.
      return this.snapshot;
    }
    const [reservations, drained, forecasts] = await Promise.all([this.options.ledger.byAgent(facts.map((f) => f.id)), this.options.ledger.drained(), this.forecasts(nowMillis)]);
    const lag = this.options.metricsLagMillis ?? 30_000;
    this.snapshot = facts.map((f) => {
      const held = reservations.get(f.id) ?? [];
      const forecast = forecasts.get(f.id);
      return {
        id: f.id,
        up: f.up,
        drained: this.drainedAt(f.id, drained, nowMillis),
        labels: f.labels,
        cpuCores: f.cpuCores,
        memoryMb: f.memoryMb,
        reservedCpuCores: held.reduce((s, r) => s + r.cpuCores, 0),
        reservedMemoryMb: held.reduce((s, r) => s + r.memoryMb, 0),
        running: held.length,
        cpuUtilization: f.cpuUtilization,
        memoryUtilization: f.memoryUtilization,
        metricsAtMillis: f.metricsAtMillis,
        forecastCpuUtilization: forecast?.cpu,
        forecastMemoryUtilization: forecast?.memory,
        recentCpuCores: held.filter((r) => r.atMillis > nowMillis - lag).reduce((s, r) => s + r.cpuCores, 0),
      };
    });
    this.byId = new Map(this.snapshot.map((a) => [a.id, a]));
    // A drain of an id the collector no longer lists has nothing left to override.
    for (const agentId of this.drainChanges.keys()) if (!this.byId.has(agentId)) this.drainChanges.delete(agentId);
    this.takenAtMillis = nowMillis;
    return this.snapshot;
  }
}
