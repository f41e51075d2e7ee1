/**
 * Sets the legacy detector's constants for a whole benchmark process, before it starts: the live
 * service has no setting for them (its detectors read the module-wide `tuning` defaults of
 * analytics/src/detector/tuning.ts), so a replay that runs the service in process (bench/live/run.js,
 * recorded.js) measures a candidate default this way, as `sloth bench nab` does with the same variable.
 *
 *   SLOTH_DETECTOR_TUNING='{"levelLearn":1}' node --import ./dist/bench/detector/tuning-preload.js dist/bench/live/run.js --seed 7
 *
 * The overrides and the resulting values are printed to stderr, so every run's log says what it ran.
 */
import { processEnv } from '@sloth/core';
import { applyTuningOverrides, detectorTuning } from '@sloth/analytics';

const json = processEnv().SLOTH_DETECTOR_TUNING;
if (json === undefined || json === '') throw new Error('tuning-preload: set SLOTH_DETECTOR_TUNING to a JSON object of detector constants, e.g. {"levelLearn":1}');
applyTuningOverrides(json);
const set = Object.keys(JSON.parse(json) as Record<string, unknown>).map((k) => `${k}=${String((detectorTuning as unknown as Record<string, number>)[k])}`);
process.stderr.write(`tuning-preload: detector constants ${set.join(', ')}\n`);
