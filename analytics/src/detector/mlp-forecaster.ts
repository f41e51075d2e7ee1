import { InputError } from '@sloth/core';
import type { TrainedModel } from './contract.js';
import { fillModelInputs, modelInputWidth } from './model-inputs.js';
import { decodeWeights } from './weights-codec.js';

interface WeightSpec {
  name: string;
  shape: number[];
  dtype: string;
}

/**
 * Scores with a trained TF.js model without TF.js: the model is Dense(relu) → Dense(linear), so the
 * forward pass is two small matrix-vector products on its saved weights (the same float32 values
 * TF.js uses). This keeps per-row scoring at well over 50k rows/s without tensor overheads.
 */
export class MlpForecaster {
  private readonly input: Float64Array;
  private readonly hiddenOut: Float64Array;

  private constructor(
    private readonly model: TrainedModel,
    private readonly kernel1: Float32Array,
    private readonly bias1: Float32Array,
    private readonly kernel2: Float32Array,
    private readonly bias2: number,
    private readonly hidden: number,
  ) {
    this.input = new Float64Array(modelInputWidth(model.lagRows));
    this.hiddenOut = new Float64Array(hidden);
  }

  static fromTrainedModel(model: TrainedModel): MlpForecaster {
    const specs = model.weightSpecs as WeightSpec[];
    const buffer = decodeWeights(model.weightDataBase64);
    const arrays: Float32Array[] = [];
    let offset = 0;
    for (const spec of specs) {
      if (spec.dtype !== 'float32') throw new InputError(`model weight ${spec.name} has dtype ${spec.dtype}; expected float32`);
      const size = spec.shape.reduce((a, b) => a * b, 1);
      arrays.push(new Float32Array(buffer.slice(offset, offset + size * 4)));
      offset += size * 4;
    }
    const [k1, b1, k2, b2] = arrays;
    const width = modelInputWidth(model.lagRows);
    if (k1 === undefined || b1 === undefined || k2 === undefined || b2 === undefined || k1.length !== width * b1.length || k2.length !== b1.length) {
      throw new InputError('model weights do not match a Dense → Dense forecaster for this input width');
    }
    return new MlpForecaster(model, k1, b1, k2, b2[0] ?? 0, b1.length);
  }

  /** Forecast of the next value from the values before it (`past(1)` is the previous row); NaN if unavailable. */
  predict(past: (lag: number) => number, _timestampMillis: number): number {
    const m = this.model;
    if (!fillModelInputs(this.input, past, m.lagRows, m.seasonalLagRows, m.center, m.scale)) return Number.NaN;
    return this.forwardNormalised(this.input) * m.scale + m.center;
  }

  /** Output for an already normalised input vector (in normalised units). */
  forwardNormalised(input: Float64Array): number {
    const width = input.length;
    const h = this.hidden;
    for (let j = 0; j < h; j += 1) this.hiddenOut[j] = this.bias1[j] as number;
    for (let i = 0; i < width; i += 1) {
      const x = input[i] as number;
      const row = i * h;
      for (let j = 0; j < h; j += 1) this.hiddenOut[j] = (this.hiddenOut[j] as number) + x * (this.kernel1[row + j] as number);
    }
    let out = this.bias2;
    for (let j = 0; j < h; j += 1) {
      const a = this.hiddenOut[j] as number;
      if (a > 0) out += a * (this.kernel2[j] as number);
    }
    return out;
  }
}
