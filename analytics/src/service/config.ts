import { z } from 'zod';
import { loadConfig, type ConfigSources } from '@sloth/core';
import { defaultIncidentScore } from '@sloth/core/live-calibration';
import type { DetectorOptions } from '../detector/contract.js';
import { defaultMinChange } from './change-floor.js';
import { parseSeriesPattern } from './glob.js';

/**
 * The analytics service's own configuration keys (the `analytics:` section of
 * the config file, `SLOTH_ANALYTICS_*` in the environment, flags).
 */
export const analyticsConfigShape = {
  /** Prometheus `/metrics` port; 0 disables the endpoint. @defaultValue 9466 */
  metricsPort: z.number().int().min(0).max(65535).default(9466),
  /** Address of the /metrics endpoint; 0.0.0.0 opens it to the network. @defaultValue `127.0.0.1` */
  metricsHost: z.string().min(1).default('127.0.0.1'),
  /** Consumer group on the samples stream; every process of one analytics deployment uses the same group. @defaultValue `analytics` */
  group: z.string().min(1).regex(/^[A-Za-z0-9_.:-]+$/, 'use letters, digits, "_", ".", ":" or "-"').default('analytics'),
  /** Consumer name inside the group; must be unique per process. @defaultValue `<hostname>-<pid>` */
  consumer: z.string().min(1).regex(/^[A-Za-z0-9_.:-]+$/, 'use letters, digits, "_", ".", ":" or "-"').optional(),
  /**
   * Shards of the samples stream. 1: every process of the deployment reads the one group and any of them
   * may score any series. More: series are hashed to shards, each shard is a consumer group `<group>.s<k>`
   * read by exactly one process at a time (leases in Redis, rebalanced as processes come and go), so each
   * series' state lives in one process. Use at least as many shards as processes. @defaultValue 1
   */
  shards: z.number().int().min(1).max(1024).default(1),
  /** Shard leases are renewed this often and expire after 5 times as long. @defaultValue 2000 */
  leaseRenewMillis: z.number().int().min(50).default(2_000),
  /**
   * Samples read per XREADGROUP call, roughly: an entry holds one sample or a batch (the collector writes
   * up to 1,000 per entry), so each call asks for this divided by the average samples per entry seen, and
   * at least one entry. @defaultValue 500
   */
  batchSize: z.number().int().min(1).max(100_000).default(500),
  /** How long one XREADGROUP blocks waiting for entries. @defaultValue 1000 */
  blockMillis: z.number().int().min(1).max(60_000).default(1_000),
  /** Pending entries idle this long belong to a dead consumer and are claimed (XAUTOCLAIM). @defaultValue 60000 */
  claimIdleMillis: z.number().int().min(100).default(60_000),
  /** How often to look for stale pending entries. @defaultValue 15000 */
  claimIntervalMillis: z.number().int().min(100).default(15_000),
  /**
   * A sample scoring at least this opens (or extends) an incident. The detector scores
   * `surprise / (surprise + 10)`; a value merely outside the range seen so far scores 0.667, which on
   * noisy host series fired ~1.8 incidents per host-hour in `bench/live` (0.55); just above it, 0.02
   * per host-hour or less; slow leaks, which no single score catches, open drift incidents. See
   * docs/benchmarks.md (live incidents). @defaultValue 0.68
   */
  anomalyThreshold: z.number().min(0).max(1).default(defaultIncidentScore),
  /**
   * Whether a high score opens an incident even when the value lies inside the detector's own
   * expected range (p10–p90). Off: such incidents were nearly all of the idle-host ones (a smooth
   * series moving by a hair); see docs/benchmarks.md (live incidents). @defaultValue false
   */
  openInsideRange: z.boolean().default(false),
  /**
   * Whether a sustained shift of level (a slow leak, a filling disk) opens an incident even when no
   * single value scores above the threshold (analytics/src/detector/drift.ts). @defaultValue true
   */
  driftDetection: z.boolean().default(true),
  /** Window lengths (even) of the drift test, in samples. @defaultValue [10, 60] */
  driftWindows: z.array(z.number().int().min(4).refine((w) => w % 2 === 0, 'a drift window must be an even number of samples')).min(1).default([10, 60]),
  /**
   * Shift of the windows' medians, in the series' own typical shifts, at which the drift test counts a
   * sample as drifting; chosen on the replay benchmark's tuning seeds (docs/benchmarks.md). @defaultValue 6
   */
  driftZThreshold: z.number().positive().default(6),
  /**
   * Whether a drift must move the level away from the series' long-run level (an exponentially
   * weighted mean over the drift reference's memory): the end of a burst, a return to the usual
   * level, is then no drift. @defaultValue true
   */
  driftAwayFromLevel: z.boolean().default(true),
  /** Consecutive drifting samples before the drift test opens an incident. @defaultValue 2 */
  driftConfirmSamples: z.number().int().min(1).default(2),
  /**
   * Smallest change that may open an incident, per metric name pattern (`*`: any characters; the first
   * match counts), in the metric's own units (monotonic sums as rates per second). A series that sat at
   * exactly 0 scores 1 for any movement; these floors, set a priori at about 1 % of a small host's or
   * device's capacity (analytics/src/service/change-floor.ts), keep such trifles from opening incidents.
   * Replacing the map replaces all of it; `{}` turns the floors off. @defaultValue see change-floor.ts
   */
  minChange: z.record(z.string().min(1), z.number().min(0)).default({ ...defaultMinChange }),
  /**
   * A load average (`system.cpu.load_average.*`) opens an incident only at or above this many tasks per
   * core of its host (the per-core `system.cpu.utilization{cpu=…}` series its agent sends; 1 until one is
   * seen): below one per core nothing waits for a CPU on average. 0 turns the gate off; open incidents are
   * not affected. @defaultValue 1
   */
  loadSaturationPerCore: z.number().min(0).max(1_000).default(1),
  /**
   * A value beyond the detector's expected range by at least the range's width, followed by this many
   * values still beyond the range's edge, opens an incident even when the detector's score was damped
   * (analytics/src/service/excursion.ts). 0 turns the test off. @defaultValue 2
   */
  excursionConfirmSamples: z.number().int().min(0).default(2),
  /** After an incident of a series opens, no new incident for it opens until this much sample time has passed. @defaultValue 300000 (5 min) */
  realertSuppressMillis: z.number().int().min(0).default(300_000),
  /** An incident resolves after this much sample time without an anomalous sample (and `incidentQuietSamples` calm ones). @defaultValue 120000 */
  incidentQuietMillis: z.number().int().min(0).default(120_000),
  /**
   * What keeps an open incident going besides anomalous samples: `edge`, any value at or beyond the
   * edge of the expected range it left (ordinary values of a noisy series cross it every few samples,
   * so such an incident may never resolve); `midway`, a value at least half-way from the middle of
   * that range to the value it opened on (analytics/src/service/incident-tracker.ts). @defaultValue midway
   */
  incidentHold: z.enum(['edge', 'midway']).default('midway'),
  /** Samples below the threshold an incident needs before it resolves. @defaultValue 3 */
  incidentQuietSamples: z.number().int().min(1).default(3),
  /** An open incident publishes an `update` at most this often (sample time), or when its peak score rises by 0.05; triggers with a minimum duration match on updates. @defaultValue 15000 */
  incidentUpdateMillis: z.number().int().min(0).default(15_000),
  /**
   * Incidents of one agent that open within this much sample time of each other form a group: their
   * transitions carry `groupId` and the group's incidents ranked by peak score. 0 turns grouping off.
   * @defaultValue 60000
   */
  incidentGroupMillis: z.number().int().min(0).default(60_000),
  /**
   * Series never scored: metric name patterns (`*`: any characters), optionally with label patterns
   * (`system.network.*{device="lo"}`). By default Sloth's own telemetry: `sloth.*`, the agent's own
   * process (`process.*`, `nodejs.*`, `v8js.*`: the agent reports no other process under these names;
   * host metrics are `system.*`), and loopback traffic (the host talking to itself, Sloth's own
   * agent → collector → Redis traffic among it), and free memory (`system.memory.*{state="free"}`: Linux
   * fills free memory with page cache and gives it back by design, so it moves by tens of MB with no change
   * in what processes hold; a leak shows on `state="used"`; bench/live/README-rule.md, round 5).
   * @defaultValue see description
   */
  excludeMetrics: z
    .array(
      z.string().min(1).superRefine((pattern, ctx) => {
        try {
          parseSeriesPattern(pattern);
        } catch (error) {
          ctx.addIssue({ code: 'custom', message: (error as Error).message });
        }
      }),
    )
    .default(['sloth.*', 'sloth_*', 'process.*', 'nodejs.*', 'v8js.*', 'system.network.*{device="lo"}', 'system.memory.*{state="free"}']),
  /** Values a series scores after it starts (or its counter resets) before it may open an incident. @defaultValue 30 */
  warmupSamples: z.number().int().min(0).default(30),
  /** Wall time after start during which no incident opens (the roles of `sloth up` are starting). @defaultValue 60000 */
  startupQuietMillis: z.number().int().min(0).default(60_000),
  /** Series kept in memory; the least recently seen are snapshotted and evicted beyond it. @defaultValue 10000 */
  maxSeries: z.number().int().min(1).default(10_000),
  /** Recent points kept per series for forecasting (ring buffer). @defaultValue 4000 */
  historyPoints: z.number().int().min(16).max(1_000_000).default(4_000),
  /**
   * How often changed detector snapshots (~60 KB a series) are written to the model registry; they are
   * also written on eviction and shutdown. @defaultValue 300000 (5 min)
   */
  snapshotIntervalMillis: z.number().int().min(100).default(300_000),
  /** How often each series with enough history gets a new forecast. @defaultValue 300000 (5 min) */
  forecastIntervalMillis: z.number().int().min(100).default(300_000),
  /** Points needed before a series is forecast. @defaultValue 200 */
  forecastMinPoints: z.number().int().min(8).default(200),
  /** Steps ahead each forecast covers. @defaultValue 12 */
  forecastHorizonSteps: z.number().int().min(1).max(10_000).default(12),
  /** Series forecast concurrently. @defaultValue 1 */
  forecastConcurrency: z.number().int().min(1).max(64).default(1),
  /**
   * A series that has sent no new sample for this many of its own sample intervals (the median spacing of its
   * history), and for at least `forecastStaleMinMillis`, is not forecast until it reports again: it stopped
   * reporting, and a forecast from its last samples would be published as if it were current. @defaultValue 10
   */
  forecastStaleIntervals: z.number().int().min(1).default(10),
  /**
   * The least time without a new sample before a series counts as stopped (see `forecastStaleIntervals`), so a
   * series sampled every second is not dropped for a short pause of its agent or of the pipeline. @defaultValue 300000 (5 min)
   */
  forecastStaleMinMillis: z.number().int().min(0).default(300_000),
  /**
   * Whether each series' detector also trains the TF.js model and uses its predictions. Off: out of fold
   * on NAB it scored below statistics only and costs a training per series (docs/anomaly-detection.md,
   * "The TF.js model in detection"). Forecasts keep their own model either way. @defaultValue false
   */
  detectorModel: z.boolean().default(false),
  /** Worker threads that train models and run forecasts; 0 runs them on the main thread. @defaultValue 1 */
  trainingThreads: z.number().int().min(0).max(64).default(1),
  /**
   * Share of one core that model work (detector training and forecasts) may use per compute thread,
   * 0 < d ≤ 1: after every 10 ms of work it rests 10·(1/d − 1) ms. For an analytics process on the host
   * it watches (`sloth up` sets 0.05 when this is not given: Sloth's own model work then stays under the
   * 0.05 CPU floor of `minChange` in every 1 s sample, so it cannot be reported as the host's anomaly; the
   * cost is throughput: with many series, forecasts refresh less often than `forecastIntervalMillis`).
   * @defaultValue 1 (unpaced; `sloth up`: 0.05)
   */
  trainingDutyCycle: z.number().gt(0).max(1).optional(),
  /** Interval of the repeatable BullMQ job that sweeps every live detector for due (re)training. @defaultValue 3600000 (1 h) */
  retrainSweepMillis: z.number().int().min(1_000).default(3_600_000),
  /** Model versions kept per series and kind in the registry. @defaultValue 3 */
  keepModelVersions: z.number().int().min(1).default(3),
  /** Collector base URL; when set, a series seen for the first time is warmed up from its history (query API). */
  collectorUrl: z.string().url().optional(),
  /** Bearer token for the collector's query API. */
  token: z.string().min(1).optional(),
  /** How much history a new series is warmed up with. @defaultValue 86400000 (1 day) */
  coldStartMillis: z.number().int().min(1).default(86_400_000),
};

export const analyticsConfigSchema = z.object(analyticsConfigShape);
export type AnalyticsConfig = Readonly<z.infer<typeof analyticsConfigSchema>> & {
  readonly dataDir: string;
  readonly redisUrl?: string | undefined;
  readonly redisPrefix: string;
  readonly logLevel: string;
};

/** Loads the analytics configuration: defaults, file section `analytics:`, `SLOTH_ANALYTICS_*`, flags. */
export function loadAnalyticsConfig(sources: ConfigSources = {}): AnalyticsConfig {
  return loadConfig('analytics', analyticsConfigShape, sources);
}

/**
 * What every detector of the service is built with: the configuration's `detectorModel`, then the options
 * handed to the role in code (tests' small models), which override it.
 */
export function serviceDetectorOptions(config: AnalyticsConfig, overrides: Partial<DetectorOptions> | undefined): Partial<DetectorOptions> {
  return { useModel: config.detectorModel, ...overrides };
}
