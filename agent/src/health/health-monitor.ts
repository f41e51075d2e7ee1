import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { SpanStatusCode, type Counter, type Histogram } from '@opentelemetry/api';
import { metricCatalogue as m, otelInstrument, type Logger } from '@sloth/core';
import { SlothError } from '@sloth/core/errors';
import { printable } from '@sloth/core/printable';
import { z } from 'zod';
import type { AgentTelemetry } from '../telemetry.js';
import type { HealthCheckConfig } from './check-config.js';
import { CheckState, stateValue, worstState, type CheckResult, type HealthState, type Transition } from './check-state.js';
import { CpuWindow, probe } from './probes.js';

/** One check as `sloth agent checks` shows it. */
export interface CheckReport {
  readonly name: string;
  readonly type: HealthCheckConfig['type'];
  readonly target: string;
  readonly state: HealthState;
  readonly consecutiveSuccesses: number;
  readonly consecutiveFailures: number;
  readonly lastTransitionAt: string | undefined;
  readonly history: ReadonlyArray<{ at: string; ok: boolean; message: string; durationMillis: number }>;
}

/** What the agent writes to `<stateDir>/checks.json`. */
export interface HealthReport {
  readonly agentId: string;
  readonly updatedAt: string;
  readonly overall: HealthState;
  readonly checks: readonly CheckReport[];
}

export interface HealthMonitorOptions {
  readonly checks: readonly HealthCheckConfig[];
  readonly agentId: string;
  readonly logger: Logger;
  /** Metrics, spans and log records go here when given. */
  readonly telemetry?: AgentTelemetry | undefined;
  /** Where the state is written after every run (read by `sloth agent checks`). */
  readonly stateFile?: string | undefined;
}

export type TransitionListener = (transition: Transition) => void;

function targetOf(check: HealthCheckConfig): string {
  switch (check.type) {
    case 'http':
    case 'tcp':
    case 'disk':
      return check.target;
    case 'command':
      return JSON.stringify(check.argv);
    case 'memory':
    case 'cpu':
      return `≤ ${check.maxUtilization}`;
  }
}

interface Running {
  readonly config: HealthCheckConfig;
  readonly state: CheckState;
  readonly cpu: CpuWindow;
  timer: NodeJS.Timeout | undefined;
  inFlight: Promise<CheckResult> | undefined;
}

/**
 * Runs the agent's health checks on their intervals, keeps each one's state
 * machine and recent history, and reports every transition as a log record,
 * a metric (`sloth.agent.check.status`, `sloth.agent.health`: 1 healthy,
 * 0 unhealthy, -1 unknown) and to `onTransition` subscribers.
 */
export class HealthMonitor {
  private readonly running = new Map<string, Running>();
  private readonly listeners = new Set<TransitionListener>();
  private readonly logger: Logger;
  private readonly telemetry: AgentTelemetry | undefined;
  private readonly transitions: Counter | undefined;
  private readonly durations: Histogram | undefined;
  private stopped = true;
  private writing: Promise<void> = Promise.resolve();

  constructor(private readonly options: HealthMonitorOptions) {
    this.logger = options.logger;
    this.telemetry = options.telemetry;
    for (const config of options.checks) {
      this.running.set(config.name, { config, state: new CheckState(config.name, config.successThreshold, config.failureThreshold), cpu: new CpuWindow(), timer: undefined, inFlight: undefined });
    }
    const meter = options.telemetry?.meter;
    if (meter !== undefined) {
      const status = meter.createObservableGauge(otelInstrument(m.agentCheckStatus).name, otelInstrument(m.agentCheckStatus).options);
      const overall = meter.createObservableGauge(otelInstrument(m.agentHealth).name, otelInstrument(m.agentHealth).options);
      meter.addBatchObservableCallback(
        (r) => {
          for (const { config, state } of this.running.values()) r.observe(status, stateValue(state.state), { check: config.name, type: config.type });
          r.observe(overall, stateValue(this.overall()));
        },
        [status, overall],
      );
      this.transitions = meter.createCounter(otelInstrument(m.agentCheckTransitions).name, otelInstrument(m.agentCheckTransitions).options);
      this.durations = meter.createHistogram(otelInstrument(m.agentCheckDuration).name, otelInstrument(m.agentCheckDuration).options);
    }
  }

  /** Subscribes to state changes; returns the unsubscribe function. */
  onTransition(listener: TransitionListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Starts every check now, then on its interval (a run never overlaps the previous one). */
  async start(): Promise<void> {
    this.stopped = false;
    await this.persist();
    for (const r of this.running.values()) this.schedule(r, 0);
  }

  async shutdown(): Promise<void> {
    this.stopped = true;
    for (const r of this.running.values()) {
      if (r.timer !== undefined) clearTimeout(r.timer);
      r.timer = undefined;
    }
    await Promise.allSettled([...this.running.values()].map(async (r) => await r.inFlight));
    await this.persist();
  }

  /** The worst state of all checks. */
  overall(): HealthState {
    return worstState([...this.running.values()].map((r) => r.state.state));
  }

  report(): HealthReport {
    return {
      agentId: this.options.agentId,
      updatedAt: new Date().toISOString(),
      overall: this.overall(),
      checks: [...this.running.values()].map(({ config, state }) => ({
        name: config.name,
        type: config.type,
        target: targetOf(config),
        state: state.state,
        consecutiveSuccesses: state.consecutiveSuccesses,
        consecutiveFailures: state.consecutiveFailures,
        lastTransitionAt: state.lastTransitionMillis === undefined ? undefined : new Date(state.lastTransitionMillis).toISOString(),
        history: state.history.map((h) => ({ at: new Date(h.atMillis).toISOString(), ok: h.ok, message: h.message, durationMillis: h.durationMillis })),
      })),
    };
  }

  /** Runs one check now (with its retries) and records the result. */
  async runNow(name: string): Promise<CheckResult> {
    const r = this.running.get(name);
    if (r === undefined) throw new Error(`no health check named ${JSON.stringify(name)}`);
    await r.inFlight;
    r.inFlight = this.run(r);
    try {
      return await r.inFlight;
    } finally {
      r.inFlight = undefined;
    }
  }

  private schedule(r: Running, delayMillis: number): void {
    if (this.stopped) return;
    r.timer = setTimeout(() => {
      r.timer = undefined;
      this.runNow(r.config.name)
        .catch((error: unknown) => this.logger.error({ err: error, check: r.config.name }, 'health check crashed'))
        .finally(() => this.schedule(r, r.config.interval * 1000));
    }, delayMillis);
  }

  private async run(r: Running): Promise<CheckResult> {
    const { config } = r;
    const started = Date.now();
    const attempt = async (): Promise<{ ok: boolean; message: string }> => {
      let outcome = await probe(config, r.cpu);
      for (let i = 0; i < config.retries && !outcome.ok && !this.stopped; i++) outcome = await probe(config, r.cpu);
      return outcome;
    };
    const outcome =
      this.telemetry === undefined
        ? await attempt()
        : await this.telemetry.tracer.startActiveSpan('health_check', { attributes: { 'sloth.check.name': config.name, 'sloth.check.type': config.type } }, async (span) => {
            const o = await attempt();
            span.setAttribute('sloth.check.ok', o.ok);
            span.setStatus(o.ok ? { code: SpanStatusCode.OK } : { code: SpanStatusCode.ERROR, message: o.message });
            span.end();
            return o;
          });
    const result: CheckResult = { ok: outcome.ok, message: outcome.message, atMillis: started, durationMillis: Date.now() - started };
    this.durations?.record(result.durationMillis / 1000, { check: config.name, type: config.type, ok: result.ok });
    const transition = r.state.record(result);
    if (transition !== undefined) this.announce(transition, config);
    await this.persist();
    return result;
  }

  private announce(t: Transition, config: HealthCheckConfig): void {
    const text = `health check ${t.check}: ${t.from} → ${t.to} (${t.result.message})`;
    const fields = { check: t.check, type: config.type, from: t.from, to: t.to, message: t.result.message };
    if (t.to === 'unhealthy') this.logger.warn(fields, text);
    else this.logger.info(fields, text);
    this.telemetry?.emitLog(t.to === 'unhealthy' ? 'warn' : 'info', text, {
      'sloth.check.name': t.check,
      'sloth.check.type': config.type,
      'sloth.check.from': t.from,
      'sloth.check.to': t.to,
      'sloth.agent.health': this.overall(),
    });
    this.transitions?.add(1, { check: t.check, to: t.to });
    for (const listener of this.listeners) {
      try {
        listener(t);
      } catch (error) {
        this.logger.error({ err: error }, 'a health transition listener threw');
      }
    }
  }

  private async persist(): Promise<void> {
    const path = this.options.stateFile;
    if (path === undefined) return;
    const text = `${JSON.stringify(this.report(), null, 2)}\n`;
    // Serialised so an older state never overwrites a newer one.
    this.writing = this.writing.then(async () => {
      try {
        await mkdir(dirname(path), { recursive: true });
        await writeFile(`${path}.tmp`, text);
        await rename(`${path}.tmp`, path);
      } catch (error) {
        this.logger.warn({ err: error, path }, 'cannot write the health check state file');
      }
    });
    await this.writing;
  }
}

const healthStateSchema = z.enum(['healthy', 'unhealthy', 'unknown']);
/** What `readHealthReport` accepts: the shape `HealthMonitor.report()` writes. */
const healthReportSchema = z.object({
  agentId: z.string(),
  updatedAt: z.string(),
  overall: healthStateSchema,
  checks: z.array(
    z.object({
      name: z.string(),
      type: z.string(),
      target: z.string(),
      state: healthStateSchema,
      consecutiveSuccesses: z.number(),
      consecutiveFailures: z.number(),
      lastTransitionAt: z.string().optional(),
      history: z.array(z.object({ at: z.string(), ok: z.boolean(), message: z.string(), durationMillis: z.number() })),
    }),
  ),
});

function damaged(path: string, why: string, cause?: unknown): SlothError {
  return new SlothError('SLOTH_ERR_STORAGE', `agent state file ${path} is damaged (${why}); the agent rewrites it after its next check; delete it to start afresh`, {
    cause,
    details: { path },
  });
}

/** Reads the state a running (or stopped) agent left in `checks.json`; undefined when there is none, a `SLOTH_ERR_STORAGE` error naming the file when it is damaged. */
export async function readHealthReport(path: string): Promise<HealthReport | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw damaged(path, `not valid JSON: ${(error as Error).message}`, error);
  }
  const parsed = healthReportSchema.safeParse(json);
  if (!parsed.success) {
    const problems = parsed.error.issues.slice(0, 5).map((i) => `${i.path.length === 0 ? 'the file' : i.path.join('.')}: ${i.message}`);
    throw damaged(path, problems.join('; '));
  }
  return parsed.data as HealthReport;
}

/** The table `sloth agent checks` prints. Every field is shown escaped: check messages carry what a command or server said. */
export function formatHealthReport(report: HealthReport, nowMillis: number = Date.now()): string {
  const ageSeconds = Math.round((nowMillis - Date.parse(report.updatedAt)) / 1000);
  const cell = (text: string): string => printable(text, { tab: 'space' });
  const lines = [`agent ${cell(report.agentId)}: ${report.overall.toUpperCase()} (state written ${ageSeconds}s ago)`];
  if (report.checks.length === 0) {
    lines.push('no health checks configured');
    return lines.join('\n');
  }
  const rows = report.checks.map((c) => {
    const last = c.history.at(-1);
    const recent = c.history.slice(-10).map((h) => (h.ok ? '+' : '-')).join('');
    return [c.name, c.type, c.state, recent, last?.message ?? '', c.target].map(cell);
  });
  const header = ['CHECK', 'TYPE', 'STATE', 'RECENT', 'LAST RESULT', 'TARGET'];
  const widths = header.map((h, i) => Math.min(48, Math.max(h.length, ...rows.map((r) => r[i]!.length))));
  const fmt = (cells: string[]): string => cells.map((c, i) => (i === cells.length - 1 ? c : c.slice(0, widths[i]).padEnd(widths[i]!))).join('  ');
  lines.push(fmt(header), ...rows.map(fmt));
  return lines.join('\n');
}
