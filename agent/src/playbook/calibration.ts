/** The live incident calibration (core/src/live-calibration.ts), as the playbook triggers use it. */
export { liveIncidentTable, minScoreForFalseRate, falseRateAtScore, rarestRate, type LiveIncidentRate } from '@sloth/core/live-calibration';
