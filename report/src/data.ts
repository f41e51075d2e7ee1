/** What the collect step gathers, before any report arithmetic: the input of the pure model. */

/** The key metrics the report charts, and how each is found among a collector's series. */
export const keyMetrics = ['cpu', 'memory', 'disk'] as const;
export type KeyMetric = (typeof keyMetrics)[number];

export const keyMetricNames: Readonly<Record<KeyMetric, string>> = {
  cpu: 'system.cpu.utilization',
  memory: 'system.memory.utilization',
  disk: 'system.filesystem.utilization',
};

export const keyMetricTitles: Readonly<Record<KeyMetric, string>> = { cpu: 'CPU', memory: 'Memory', disk: 'Disk' };

/** One step bucket of a series: min, max and mean of the points in it. */
export interface Bucket {
  readonly t: number;
  readonly min: number;
  readonly max: number;
  readonly avg: number;
}

export interface CollectedSeries {
  readonly key: string;
  readonly agentId: string;
  readonly metric: KeyMetric;
  /** What tells series of one metric apart on one agent (a mountpoint), '' for none. */
  readonly instance: string;
  readonly current: readonly Bucket[];
  readonly previous: readonly Bucket[];
}

export interface CollectedAgent {
  readonly id: string;
  readonly state: 'up' | 'down';
  readonly firstSeenMillis: number;
  readonly lastSeenMillis: number;
  /** Availability buckets with data, this period and the one before. */
  readonly presentBuckets: number;
  readonly presentBucketsPrevious: number;
}

export interface IncidentRecord {
  readonly incidentId: string;
  readonly seriesId: string;
  readonly agentId: string;
  readonly metric: string;
  readonly openedAtMillis: number;
  readonly resolvedAtMillis: number | null;
  readonly maxScore: number;
  readonly direction: string;
}

export interface RemediationRecord {
  readonly id: string;
  readonly agentId: string;
  readonly playbook: string;
  readonly state: string;
  readonly createdAtMillis: number;
  readonly durationMillis: number | null;
  readonly message: string;
}

/** One notification the alerts service recorded (`GET /api/v1/history`): the alert names of the group firing and resolved. */
export interface AlertNotificationRecord {
  readonly atMillis: number;
  readonly receiver: string;
  readonly groupKey: string;
  readonly groupLabels: Readonly<Record<string, string>>;
  /** Alert names (`alertname`), one per alert of the group, as the service logs them. */
  readonly firing: readonly string[];
  readonly resolved: readonly string[];
  readonly outcome: string;
}

/** An alert the alerts service holds when the report is made (`GET /api/v1/alerts`). */
export interface ActiveAlertRecord {
  readonly rule: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly state: string;
  readonly flapping: boolean;
  readonly startsAtMillis: number;
  readonly endsAtMillis: number | null;
}

export interface AlertsCollected {
  /** Oldest first. */
  readonly notifications: readonly AlertNotificationRecord[];
  /** True when the service returned as many notifications as asked for: older ones may exist. */
  readonly truncated: boolean;
  readonly active: readonly ActiveAlertRecord[];
}

/** One recorded scaling decision (`GET /api/v1/scaling/:name/decisions`). */
export interface ScalingDecisionRecord {
  readonly timestampMillis: number;
  readonly action: string;
  readonly previousReplicas: number;
  readonly replicas: number;
  readonly demand: number | null;
  readonly forecastValue: number | null;
  /** The policy's mode at the decision (predictive, reactive, …). */
  readonly policyMode: string;
  /** The target's mode: `act` or `forecast-only`. */
  readonly targetMode: string;
  readonly acted: boolean;
  readonly actuation: { readonly kind: string; readonly detail: string } | null;
  readonly reasons: readonly string[];
}

export interface ScalingTargetRecord {
  readonly name: string;
  readonly mode: string;
  readonly demandSeries: string;
  readonly minReplicas: number | null;
  readonly maxReplicas: number | null;
  /** Oldest first. */
  readonly decisions: readonly ScalingDecisionRecord[];
  readonly truncated: boolean;
}

/** One attempt of a task on one agent (`TaskAttempt` of `GET /api/v1/tasks`). */
export interface TaskAttemptRecord {
  readonly attempt: number;
  readonly agentId: string;
  readonly placedAtMillis: number;
  readonly startedAtMillis: number | null;
  readonly finishedAtMillis: number | null;
  /** `succeeded`, `failed`, `timed-out`, `agent-down`, `cancelled`; null while it runs. */
  readonly outcome: string | null;
  readonly message: string;
  /** Times the run started again after its first start (its agent or Redis restarted mid-run). */
  readonly redeliveries: number;
}

/**
 * A user task the scheduler placed or tried to place (`GET /api/v1/tasks`).
 * Only what the report shows is kept: never the task's params (they may hold secrets).
 */
export interface TaskRecord {
  readonly id: string;
  /** The submitter's free text, '' for none. */
  readonly name: string;
  /** The playbook it runs, '' for a command. */
  readonly playbook: string;
  /** The command's argv, empty for a playbook. */
  readonly command: readonly string[];
  readonly state: string;
  readonly createdAtMillis: number;
  readonly updatedAtMillis: number;
  /** Why the task is in its state, in words ('' for none). */
  readonly reason: string;
  /** Oldest first. */
  readonly attempts: readonly TaskAttemptRecord[];
}

export interface TasksCollected {
  readonly tasks: readonly TaskRecord[];
  /** True when the scheduler returned as many tasks as asked for: older ones may exist. */
  readonly truncated: boolean;
}

/** A source the report may read; when absent the report says why instead of showing zeros. */
export type Source<T> = { readonly available: true; readonly items: readonly T[] } | { readonly available: false; readonly reason: string };

/** A source whose content is one record rather than a list. */
export type Readable<T> = ({ readonly available: true } & T) | { readonly available: false; readonly reason: string };

export interface CollectedData {
  /** The collector's origin (never with credentials). */
  readonly collector: string;
  readonly fromMillis: number;
  readonly toMillis: number;
  readonly previousFromMillis: number;
  readonly bucketMillis: number;
  readonly availabilityBucketMillis: number;
  readonly agents: readonly CollectedAgent[];
  readonly series: readonly CollectedSeries[];
  readonly incidents: Source<IncidentRecord>;
  readonly remediations: Source<RemediationRecord>;
  readonly alerts: Readable<AlertsCollected>;
  readonly scaling: Source<ScalingTargetRecord>;
  readonly tasks: Readable<TasksCollected>;
}
