export type { NabProfile, NabProfileName } from './profiles.js';
export { nabProfiles, probationaryRows, nabProbationPercent } from './profiles.js';
export { scaledSigmoid } from './scaled-sigmoid.js';
export type { NabFile, SweepPoint, FileSweep } from './sweep.js';
export { sweepFile } from './sweep.js';
export type { ThresholdScore, NabProfileScore } from './corpus-score.js';
export { scoresByThreshold, optimizeThreshold, scoreAtThreshold, scoreNabProfile, scoreNabCorpus } from './corpus-score.js';
export type { NabWindows } from './corpus-files.js';
export { readNabWindows, listCsvFiles, readResultFile, readResultsCorpus } from './corpus-files.js';
