export type { DetectorAlgorithm, DetectorOutput, DetectorOptions, TrainingRequest, TrainedModel, DetectorSnapshot, SeriesDetector } from './contract.js';
export { createDetector, restoreDetector, defaultDetectorOptions } from './series-detector.js';
export { trainModel, loadTfModel } from './train.js';
export { updateAndTrain, scoreSeries, type DetectorInputRow } from './run-series.js';
export { detectFile, type DetectFileOptions, type DetectFileResult, type DetectorName } from './detect-file.js';
export { tuning, applyTuningOverrides, principledTuning } from './tuning.js';
export { ensureTfBackend } from '../tf-backend.js';
export { falseAlarmTable, falseAlarmsPerSeriesDay, thresholdForFalseAlarms } from './calibration.js';
export { EnsembleDetector, ensembleConstants } from './ensemble/ensemble-detector.js';
