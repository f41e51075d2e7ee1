export { errorCatalogue, SlothError, ConfigError, InputError, isSlothError } from './errors.js';
export type { SlothErrorCode, ConfigProblem } from './errors.js';
export {
  loadConfig,
  readConfigFile,
  commonConfigShape,
  commonConfigSchema,
  configSections,
  envName,
  processEnv,
} from './config.js';
export type { CommonConfig, ConfigSection, ConfigSources } from './config.js';
export { createLogger, silentLogger } from './logger.js';
export type { Logger, LoggerSettings } from './logger.js';
export { redisKeys, queueNames } from './redis-keys.js';
export type { RedisKeys } from './redis-keys.js';
export { seriesId, parseSeriesId, anomalyEventSchema, incidentGroupSchema, incidentStates, forecastMessageSchema, slothEventSchema, encodeJsonMessage, decodeJsonMessage } from './model.js';
export type { Labels, SeriesRef, Sample, MetricKind, AnomalyEvent, IncidentGroupSummary, ForecastMessage, SlothEvent, IncidentState } from './model.js';
export { encodeSampleMessage, sampleBatchField, encodeSampleBatch, encodeSampleBatchBytes, prepareSampleBatch, decodeSampleColumns, decodeSampleEntry } from './samples-stream.js';
export type { SampleFields, SampleColumns, SampleBatchText, BadSample, SampleKind } from './samples-stream.js';
export { freePort, canConnect, sleep } from './net.js';
export { seededNormalNoise } from './noise.js';
export { RedisServer, resolveRedis, pingRedis, reachableRedis, defaultRedisUrl, redactUrl, slothRedisMarkerKey, ensureRedisPassword } from './redis-server.js';
export type { ResolvedRedis } from './redis-server.js';
export { redactJson, jsonSecrets, redactText } from './redact-text.js';
export { printable } from './printable.js';
export { utf8Prefix, prefixWithin, utf8CodePointBytes } from './utf8.js';
export type { RedactTextOptions } from './redact-text.js';
export { version } from './version.js';
export { limitHeapGrowth } from './heap.js';
export { remediationStates, remediationJobName, remediationJobSchema, remediationReportSchema, remediationResultsStream, remediationDoneKey, remediationClaimKey } from './remediation.js';
export type { RemediationJob, RemediationReport } from './remediation.js';
export { JobSigningKey, withSharedKeyFile, jobSigningKeyBytes, jobSigningKeyPath, readJobSigningKey, ensureJobSigningKey, canonicalJson, jobSigningPayload, signRemediationJob, verifyRemediationJob, jobClockSkewMillis, defaultJobValidityMillis, maxJobValidityMillis } from './job-signing.js';
export type { JobRefusal } from './job-signing.js';
export { QueryClient, defaultCollectorUrl } from './client/query-client.js';
export type { QueryClientOptions, QueryResult, QueryFailure, QueryFailureKind, QueryTime, SeriesFilter, SamplesQuery, AggregateQuery } from './client/query-client.js';
export {
  stepAggregations,
  agentsResponseSchema,
  seriesResponseSchema,
  samplesResponseSchema,
  latestResponseSchema,
  spansResponseSchema,
  logsResponseSchema,
  aggregateResponseSchema,
  apiErrorBodySchema,
} from './client/query-schemas.js';
export {
  healthResponseSchema,
  remediationRecordSchema,
  remediationsResponseSchema,
  placementDecisionSchema,
  taskRecordSchema,
  tasksResponseSchema,
  drainResponseSchema,
  drainedAgentsResponseSchema,
  scalingTargetsResponseSchema,
  scalingDecisionsResponseSchema,
} from './client/scheduler-schemas.js';
export type { RemediationRecordView, TaskRecordView } from './client/scheduler-schemas.js';
export {
  alertsResponseSchema,
  alertRulesResponseSchema,
  ruleScoresResponseSchema,
  silencesResponseSchema,
  silenceResponseSchema,
  silenceExpiredResponseSchema,
  alertHistoryResponseSchema,
  routeTestResponseSchema,
  alertmanagerIntakeResponseSchema,
} from './client/alerts-schemas.js';
export type { AlertViewRecord, SilenceRecord } from './client/alerts-schemas.js';
export type { AgentInfo, SeriesInfo, SamplePoint, SamplesResponse, LatestPoint, SpanRecord, LogRecord, AggregateGroup, AggregateResponse, StepAggregation } from './client/query-schemas.js';
export { StreamConsumer, PoisonEntryError, compareIds } from './stream-consumer.js';
export type { StreamConsumerOptions, StreamConsumerMetrics, StreamEntry, StreamDelivery } from './stream-consumer.js';
export { createApi, listenApi, localUrl, HttpError, statusForCode, codeForStatus, canonicalPath, canonicalUrl, jsonDepthExceeds, defaultMaxJsonDepth, jsonResponses, jsonSchemaOf, errorBodyJsonSchema, apiRoutes } from './http/index.js';
export { liveApis } from './http/index.js';
export type { CreateApiOptions, RouteAuth, BoundAddress, ErrorBody, ApiRouteRecord, ApiRouteAccess, LiveApi } from './http/index.js';
export { TokenSet, parseTokenSpec, readTokenFile, ownerOnlyCheck, maxTokenFileBytes, mayWriteFor, agentMatches, anonymousPrincipal, minTokenLength } from './tokens.js';
export { readRegularFile, notRegularFileProblem, specialFileKind, formatBytes } from './regular-file.js';
export type { RegularFileRead, ReadRegularFileOptions } from './regular-file.js';
export type { TokenSpec, Principal } from './tokens.js';
export * from './metrics/index.js';
export { writeText } from './write-text.js';
export { parseYamlQuietly, yamlProblemMessage } from './yaml-quiet.js';
export type { QuietYaml, YamlProblem } from './yaml-quiet.js';
