export type { IngestBatch, MetricPoint, SpanRecord, LogRecordEntry, ResourceInfo } from './records.js';
export { Collector, startCollector } from './collector.js';
export type { CollectorAddresses } from './collector.js';
export { collectorConfigShape, loadCollectorConfig, parseTokenFlag, tokenEntrySchema } from './config.js';
export type { CollectorSettings, TokenEntry } from './config.js';
