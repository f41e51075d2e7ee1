export { loadPlaybook, lintPlaybook, runPlaybook, resolveLimits, playbookRuntime, shutdownPlaybookRuntime } from './api.js';
export type { RunPlaybookOptions } from './api.js';
export { PlaybookRuntime, defaultPlaybookLimits } from './runtime.js';
export type { PlaybookRuntimeOptions } from './runtime.js';
export { matchTriggers, parsePlaybookEvent, eventForLua, anomalyTriggerThreshold } from './triggers.js';
export { liveIncidentTable, minScoreForFalseRate, falseRateAtScore, rarestRate } from './calibration.js';
export type { LiveIncidentRate } from './calibration.js';
export { validateParams, validateMetadata, missingConfiguration } from './metadata.js';
export { LocalPlaybookHost } from './local-host.js';
export { checkFsRoots } from './fs-roots.js';
export type { FsRoot, FsRootProblem } from './fs-roots.js';
export type { LocalHostOptions, RecordedAlert } from './local-host.js';
export { FileStateStore, defaultStateStoreLimits } from './state-store.js';
export type { StateStoreLimits } from './state-store.js';
export { defaultExecEnvKeys, execPolicyProblems } from './exec-policy.js';
export { forbiddenGlobals } from './prelude.js';
export type {
  Playbook,
  PlaybookMetadata,
  PlaybookParamSpec,
  PlaybookParamType,
  PlaybookTrigger,
  AnomalyTrigger,
  PlaybookLimits,
  PlaybookLimitName,
  PlaybookLogLevel,
  PlaybookLogRecord,
  PlaybookAction,
  PlaybookResult,
  PlaybookRunContext,
  PlaybookHost,
  PlaybookStateStore,
  ExecPolicy,
  HttpPolicy,
  FsPolicy,
  PlaybookMetricAttributes,
  PlaybookEvent,
  TriggerMatch,
  LintProblem,
  LintReport,
} from './types.js';
