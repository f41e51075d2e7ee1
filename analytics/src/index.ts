export type { ForecastPoint, ForecastResult, ForecastOptions, ForecastModelName, BacktestScore } from './forecast/types.js';
export { forecastSeries } from './forecast/forecastSeries.js';
export type { SeriesRow, SeriesCsvOptions, BackwardsPolicy } from './csv-series.js';
export { parseTimestamp, SeriesCsvParser, streamSeriesCsv, readSeriesCsv, parseSeriesCsv } from './csv-series.js';
export type { DetectorOutput, DetectorOptions, TrainingRequest, TrainedModel, DetectorSnapshot, SeriesDetector } from './detector/contract.js';
