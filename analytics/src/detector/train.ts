import { InputError } from '@sloth/core';
import type { TrainedModel, TrainingRequest } from './contract.js';
import { fillModelInputs, modelInputWidth } from './model-inputs.js';
import { ensureTfBackend, tf } from '../tf-backend.js';
import { encodeWeights } from './weights-codec.js';
import { seededRandom } from '../forecast/stats.js';
import { unpaced, type Pace } from '../pacer.js';

function robustCenterScale(values: readonly number[]): { center: number; scale: number } {
  const sorted = [...values].sort((a, b) => a - b);
  const q = (f: number): number => sorted[Math.min(sorted.length - 1, Math.floor(f * sorted.length))] ?? 0;
  const center = q(0.5);
  let scale = (q(0.95) - q(0.05)) / 3.29;
  if (!(scale > 0)) {
    const mean = values.reduce((a, b) => a + b, 0) / Math.max(1, values.length);
    scale = Math.sqrt(values.reduce((a, b) => a + (b - mean) ** 2, 0) / Math.max(1, values.length));
  }
  if (!(scale > 0)) scale = Math.max(1, Math.abs(center));
  return { center, scale };
}

/**
 * Trains the per-series TF.js forecaster (Dense(relu) → Dense) on a training request: inputs are the
 * last `lagRows` values and the values one day back, the target the next value, all robustly
 * normalised. Pure and deterministic for a seed (seeded initialisers, own shuffle); runnable in a
 * worker thread. The result is JSON (topology, weight specs, base64 weights). `pace` is asked at every
 * batch end whether to rest (the service's duty cycle).
 */
export async function trainModel(request: TrainingRequest, pace: Pace = unpaced): Promise<TrainedModel> {
  const { values, lagRows, seasonalLagRows, hiddenUnits, epochs, seed } = request;
  if (!Number.isInteger(lagRows) || lagRows < 1) throw new InputError(`lagRows must be a positive integer, got ${lagRows}`);
  const first = Math.max(lagRows, seasonalLagRows > 1 ? seasonalLagRows + 1 : 0);
  const samples = values.length - first;
  if (samples < 8) throw new InputError(`training needs at least ${first + 8} values, got ${values.length}`);
  await ensureTfBackend();
  const { center, scale } = robustCenterScale(values);
  const width = modelInputWidth(lagRows);
  const xs = new Float32Array(samples * width);
  const ys = new Float32Array(samples);
  const row = new Float64Array(width);
  const random = seededRandom(seed);
  const order = Array.from({ length: samples }, (_, i) => i);
  for (let i = samples - 1; i > 0; i -= 1) {
    const j = Math.floor(random() * (i + 1));
    [order[i], order[j]] = [order[j] as number, order[i] as number];
  }
  order.forEach((sample, slot) => {
    const t = first + sample;
    fillModelInputs(row, (lag) => values[t - lag] ?? Number.NaN, lagRows, seasonalLagRows, center, scale);
    xs.set(row, slot * width);
    ys[slot] = ((values[t] as number) - center) / scale;
  });

  const model = tf.sequential();
  model.add(tf.layers.dense({ inputShape: [width], units: hiddenUnits, activation: 'relu', kernelInitializer: tf.initializers.glorotUniform({ seed }) }));
  model.add(tf.layers.dense({ units: 1, kernelInitializer: tf.initializers.glorotUniform({ seed: seed + 1 }) }));
  // TF.js does not dispose an optimizer passed in by the caller: keep it to free its variables.
  const optimizer = tf.train.adam(0.01);
  model.compile({ optimizer, loss: 'meanAbsoluteError' });
  const x = tf.tensor2d(xs, [samples, width]);
  const y = tf.tensor2d(ys, [samples, 1]);
  let trainLoss = Number.NaN;
  try {
    const history = await model.fit(x, y, { epochs, batchSize: 64, shuffle: false, verbose: 0, callbacks: { onBatchEnd: async () => await pace.breathe() } });
    const losses = history.history.loss ?? [];
    trainLoss = Number(losses[losses.length - 1] ?? Number.NaN);
    let saved: tf.io.ModelArtifacts | null = null;
    await model.save(
      tf.io.withSaveHandler(async (artifacts) => {
        saved = artifacts;
        return { modelArtifactsInfo: { dateSaved: new Date(0), modelTopologyType: 'JSON' } };
      }),
    );
    const artifacts = saved as tf.io.ModelArtifacts | null;
    if (artifacts === null || !(artifacts.weightData instanceof ArrayBuffer)) throw new Error('TF.js did not hand over the model weights');
    return {
      kind: 'mlp-forecaster',
      version: request.version,
      lagRows,
      seasonalLagRows,
      center,
      scale,
      modelTopology: artifacts.modelTopology,
      weightSpecs: artifacts.weightSpecs ?? [],
      weightDataBase64: encodeWeights(artifacts.weightData),
      trainLoss,
    };
  } finally {
    x.dispose();
    y.dispose();
    model.dispose();
    optimizer.dispose();
  }
}

/** Loads a trained model back into TF.js (for checks and batch inference); the caller disposes it. */
export async function loadTfModel(model: TrainedModel): Promise<tf.LayersModel> {
  await ensureTfBackend();
  const { decodeWeights } = await import('./weights-codec.js');
  return tf.loadLayersModel(
    tf.io.fromMemory({
      modelTopology: model.modelTopology as tf.io.ModelArtifacts['modelTopology'],
      weightSpecs: model.weightSpecs as tf.io.WeightsManifestEntry[],
      weightData: decodeWeights(model.weightDataBase64),
    }),
  );
}
