import * as tf from '@tensorflow/tfjs';
import { InputError } from '@sloth/core';
import { ensureTfBackend } from '../../tf-backend.js';
import { unpaced, type Pace } from '../../pacer.js';
import { mean, seededRandom } from '../stats.js';
import type { FittedModel } from './fittedModel.js';

/** Shape and scaling of the inputs the network was trained on; stored with its weights. */
export interface MlpConfig {
  lagSteps: number;
  periodSteps: number;
  horizon: number;
  /** Differences are divided by this before entering the network. */
  scale: number;
  /** Mean of the training values, to tell the network where the current level sits. */
  center: number;
}

/** The trained network as plain data (JSON-safe): TensorFlow.js model artifacts plus the feature config. */
export interface SerializedMlp {
  format: 'sloth-mlp-v1';
  config: MlpConfig;
  modelTopology: unknown;
  weightSpecs: tf.io.WeightsManifestEntry[];
  /** The weights, base64. */
  weightDataBase64: string;
}

/** Options of `trainMlp`. */
export interface MlpTrainOptions {
  /** @defaultValue 24 */
  lagSteps: number;
  /** @defaultValue 32 */
  hiddenUnits: number;
  /** @defaultValue 30 */
  epochs: number;
  /** @defaultValue 128 */
  batchSize: number;
  /** @defaultValue 0.005 */
  learningRate: number;
  /** @defaultValue 42 */
  seed: number;
}

// Wide enough for a steady trend over the horizon (k steps = k units), narrow enough to tame spikes.
const FEATURE_CLIP = 50;
const MIN_TRAINING_WINDOWS = 64;

/** A trained MLP forecaster: forecasts, saves itself, and frees its tensors on `dispose()`. */
export interface MlpForecaster extends FittedModel {
  readonly config: MlpConfig;
  save(): Promise<SerializedMlp>;
  dispose(): void;
}

/**
 * Trains a small multi-output MLP on `values[0, fitEnd)`: inputs are the last `lagSteps` values and the
 * values one season before each target step (all relative to the last value, scaled), plus the phase
 * in the season; outputs are the `horizon` future changes. Trained on absolute error (what MASE measures).
 * Returns undefined when the history is too short for enough training windows. `pace` is asked at
 * every batch end whether to rest; `onEpochEnd` hears each epoch done (1-based).
 */
export async function trainMlp(values: Float64Array, fitEnd: number, periodSteps: number, horizon: number, options: Partial<MlpTrainOptions> = {}, pace: Pace = unpaced, onEpochEnd: (epoch: number) => void = () => undefined): Promise<MlpForecaster | undefined> {
  const o: MlpTrainOptions = { lagSteps: 24, hiddenUnits: 32, epochs: 30, batchSize: 128, learningRate: 0.005, seed: 42, ...options };
  await ensureTfBackend();
  const m = periodSteps >= 2 && fitEnd >= 2 * periodSteps + horizon ? periodSteps : 0;
  const config: MlpConfig = { lagSteps: o.lagSteps, periodSteps: m, horizon, scale: diffScale(values, fitEnd), center: mean(values, 0, fitEnd) };
  const first = Math.max(o.lagSteps - 1, m > 0 ? m - 1 : 0);
  const origins: number[] = [];
  for (let t = first; t + horizon < fitEnd; t++) origins.push(t);
  if (origins.length < MIN_TRAINING_WINDOWS) return undefined;
  const random = seededRandom(o.seed);
  for (let i = origins.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [origins[i], origins[j]] = [origins[j] as number, origins[i] as number];
  }
  const width = featureCount(config);
  const x = features(values, origins, config);
  const y = new Float32Array(origins.length * horizon);
  origins.forEach((t, row) => {
    const anchor = values[t] as number;
    for (let k = 1; k <= horizon; k++) y[row * horizon + k - 1] = clip(((values[t + k] as number) - anchor) / config.scale);
  });
  const model = tf.sequential({
    layers: [
      tf.layers.dense({ units: o.hiddenUnits, activation: 'relu', inputShape: [width], kernelInitializer: tf.initializers.glorotUniform({ seed: o.seed }) }),
      tf.layers.dense({ units: horizon, kernelInitializer: tf.initializers.glorotUniform({ seed: o.seed + 1 }) }),
    ],
  });
  // A user-supplied optimizer is not disposed with the model: free its slot variables ourselves after training.
  const optimizer = tf.train.adam(o.learningRate);
  model.compile({ optimizer, loss: 'meanAbsoluteError' });
  const xs = tf.tensor2d(x, [origins.length, width]);
  const ys = tf.tensor2d(y, [origins.length, horizon]);
  try {
    await model.fit(xs, ys, { epochs: o.epochs, batchSize: o.batchSize, shuffle: false, verbose: 0, callbacks: { onBatchEnd: async () => await pace.breathe(), onEpochEnd: (epoch) => onEpochEnd(epoch + 1) } });
  } finally {
    xs.dispose();
    ys.dispose();
    optimizer.dispose();
  }
  return wrap(model, config);
}

/** Restores a network saved by `MlpForecaster.save()`; forecasts are identical to the saved one's. */
export async function loadMlp(saved: SerializedMlp): Promise<MlpForecaster> {
  if (saved.format !== 'sloth-mlp-v1') throw new InputError(`unknown saved model format ${JSON.stringify(saved.format)}; expected "sloth-mlp-v1"`);
  await ensureTfBackend();
  const weightData = Buffer.from(saved.weightDataBase64, 'base64');
  const model = await tf.loadLayersModel(
    tf.io.fromMemory({
      modelTopology: saved.modelTopology as tf.io.ModelArtifacts['modelTopology'],
      weightSpecs: saved.weightSpecs,
      weightData: weightData.buffer.slice(weightData.byteOffset, weightData.byteOffset + weightData.byteLength),
    }),
  );
  return wrap(model, saved.config);
}

function wrap(model: tf.LayersModel, config: MlpConfig): MlpForecaster {
  return {
    name: 'mlp',
    config,
    forecastFrom(values, origins, horizon) {
      if (horizon > config.horizon) throw new InputError(`the network was trained for ${config.horizon} steps ahead, not ${horizon}`);
      if (origins.length === 0) return [];
      const width = featureCount(config);
      const predicted = tf.tidy(() => (model.predict(tf.tensor2d(features(values, origins, config), [origins.length, width])) as tf.Tensor).dataSync());
      return origins.map((t, row) => {
        const anchor = values[t] as number;
        const out = new Float64Array(horizon);
        for (let k = 0; k < horizon; k++) out[k] = anchor + (predicted[row * config.horizon + k] as number) * config.scale;
        return out;
      });
    },
    async save() {
      let captured: tf.io.ModelArtifacts | undefined;
      await model.save(
        tf.io.withSaveHandler(async (artifacts) => {
          captured = artifacts;
          return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
        }),
      );
      if (captured === undefined || captured.weightData === undefined || captured.weightSpecs === undefined) throw new Error('TensorFlow.js returned no model artifacts');
      const weightData = captured.weightData;
      const buffers = Array.isArray(weightData) ? weightData : [weightData];
      return {
        format: 'sloth-mlp-v1',
        config,
        modelTopology: captured.modelTopology,
        weightSpecs: captured.weightSpecs,
        weightDataBase64: Buffer.concat(buffers.map((b) => Buffer.from(b))).toString('base64'),
      };
    },
    dispose() {
      model.dispose();
    },
  };
}

function featureCount(c: MlpConfig): number {
  return c.lagSteps + (c.periodSteps > 0 ? c.horizon + 2 : 0);
}

function features(values: Float64Array, origins: readonly number[], c: MlpConfig): Float32Array {
  const width = featureCount(c);
  const out = new Float32Array(origins.length * width);
  origins.forEach((t, row) => {
    const base = row * width;
    const anchor = values[t] as number;
    out[base] = clip((anchor - c.center) / c.scale);
    for (let i = 1; i < c.lagSteps; i++) out[base + i] = clip(((values[Math.max(0, t - i)] as number) - anchor) / c.scale);
    if (c.periodSteps > 0) {
      const m = c.periodSteps;
      for (let k = 1; k <= c.horizon; k++) {
        const idx = Math.max(0, t + k - m * Math.ceil(k / m));
        out[base + c.lagSteps + k - 1] = clip(((values[idx] as number) - anchor) / c.scale);
      }
      const phase = (2 * Math.PI * ((t + 1) % m)) / m;
      out[base + c.lagSteps + c.horizon] = Math.sin(phase);
      out[base + c.lagSteps + c.horizon + 1] = Math.cos(phase);
    }
  });
  return out;
}

/** Mean absolute one-step change: the natural unit of short-horizon movements (1 for a constant series). */
function diffScale(values: Float64Array, end: number): number {
  let sum = 0;
  for (let i = 1; i < end; i++) sum += Math.abs((values[i] as number) - (values[i - 1] as number));
  const scale = end > 1 ? sum / (end - 1) : 0;
  if (scale > 0 && Number.isFinite(scale)) return scale;
  const level = Math.abs(mean(values, 0, end));
  return level > 0 ? level : 1;
}

function clip(v: number): number {
  return v > FEATURE_CLIP ? FEATURE_CLIP : v < -FEATURE_CLIP ? -FEATURE_CLIP : v;
}
