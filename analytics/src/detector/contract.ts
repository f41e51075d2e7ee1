/**
 * The anomaly detector's public contract, shared by `sloth detect`, `sloth bench nab` and the
 * analytics service. Implementations: `createDetector`, `restoreDetector`, `trainModel` in
 * `./series-detector.ts` and `./train.ts` (re-exported from `@sloth/analytics`).
 */

/** What the detector says about one row. */
export interface DetectorOutput {
  /** Anomaly score in [0, 1]; never NaN. */
  score: number;
  /** Lower edge of the expected range for this row, or null while the detector is still learning. */
  expectedLow: number | null;
  /** Upper edge of the expected range for this row, or null while the detector is still learning. */
  expectedHigh: number | null;
}

/** The detector implementations behind this contract. */
export type DetectorAlgorithm = 'ensemble' | 'legacy';

/** Tunables; one configuration for every series (no per-series tuning). */
export interface DetectorOptions {
  /**
   * Which detector: `ensemble` (robust raw detectors + anomaly likelihood, a-priori constants, no
   * model) or `legacy` (the tuned statistics, plus the TF.js model when `useModel`). Snapshots without it are legacy.
   * @defaultValue see `defaultDetectorOptions`
   */
  algorithm?: DetectorAlgorithm;
  /**
   * Train the TF.js model and let it predict beside the statistics. Off by default: out of fold it did
   * not earn its cost (docs/anomaly-detection.md). @defaultValue false
   */
  useModel: boolean;
  /** Rows seen before the first training request. @defaultValue 400 */
  minTrainRows: number;
  /** Rows between re-training requests after the first. @defaultValue 2000 */
  retrainEveryRows: number;
  /** Most recent rows sent in a training request. @defaultValue 3000 */
  trainWindowRows: number;
  /** Input window (lags) of the model. @defaultValue 24 */
  lagRows: number;
  /** Hidden units of the model's MLP. @defaultValue 16 */
  hiddenUnits: number;
  /** Training epochs. @defaultValue 12 */
  epochs: number;
  /** Seed of weight initialisation and shuffling (training is deterministic for a seed). @defaultValue 42 */
  seed: number;
}

/** Data to (re)train the TF.js model on; JSON-serialisable so it can be sent to a worker thread. */
export interface TrainingRequest {
  kind: 'mlp-forecaster';
  /** Model version this training will produce (monotonic per series). */
  version: number;
  /** Raw values, oldest first. */
  values: number[];
  lagRows: number;
  /** Rows per day of the series (0 when unknown): the model also sees the values one day back. */
  seasonalLagRows: number;
  hiddenUnits: number;
  epochs: number;
  seed: number;
}

/** A trained model: JSON-serialisable (weights base64 of float32 little-endian). */
export interface TrainedModel {
  kind: 'mlp-forecaster';
  version: number;
  lagRows: number;
  seasonalLagRows: number;
  /** Normalisation applied to inputs and targets: (x - center) / scale. */
  center: number;
  scale: number;
  /** `tf.io.ModelArtifacts.modelTopology` as saved by `tf.io.withSaveHandler`. */
  modelTopology: unknown;
  /** `tf.io.ModelArtifacts.weightSpecs`. */
  weightSpecs: unknown[];
  /** Base64 of the weight buffer. */
  weightDataBase64: string;
  /** Mean absolute training error in normalised units (diagnostic). */
  trainLoss: number;
}

/** JSON-serialisable state of one series' detector (< 100 KB). */
export interface DetectorSnapshot {
  format: 1;
  options: DetectorOptions;
  /** Opaque per-component state. */
  state: Record<string, unknown>;
  model: TrainedModel | null;
}

/** A streaming detector for one series. */
export interface SeriesDetector {
  /** Causal: uses rows up to and including this one. */
  update(timestampMillis: number, value: number): DetectorOutput;
  /** Data to (re)train the TF.js model on when training is due, else null. */
  trainingRequest(): TrainingRequest | null;
  /** Installs a model trained from a TrainingRequest (trained possibly in another thread). */
  installModel(model: TrainedModel): void;
  /** JSON-serialisable, < 100 KB per series. */
  snapshot(): DetectorSnapshot;
  /** `stats` before the first model, then `mlp-v<version>`. */
  readonly modelVersion: string;
}
