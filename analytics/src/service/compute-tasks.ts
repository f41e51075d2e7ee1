import type { TrainedModel, TrainingRequest } from '../detector/contract.js';
import type { ForecastOptions, ForecastResult } from '../forecast/types.js';
import { unpaced, type Pace } from '../pacer.js';

/** Work the compute pool runs off the main thread: JSON-serialisable in and out. */
export type ComputeTask =
  | { type: 'train-detector'; request: TrainingRequest }
  | {
      type: 'forecast';
      timestampsMillis: number[];
      values: number[];
      horizonSteps: number;
      options?: Partial<ForecastOptions> | undefined;
    };

export type ComputeResult<T extends ComputeTask> = T extends { type: 'train-detector' } ? TrainedModel : ForecastResult;

/** Runs one task in the current thread (the worker's body, and the pool's inline mode), resting as `pace` says. */
export async function runComputeTask(task: ComputeTask, pace: Pace = unpaced): Promise<TrainedModel | ForecastResult> {
  switch (task.type) {
    case 'train-detector': {
      const { trainModel } = await import('../detector/train.js');
      return await trainModel(task.request, pace);
    }
    case 'forecast': {
      const { forecastSeries } = await import('../forecast/forecastSeries.js');
      return await forecastSeries(task.timestampsMillis, task.values, task.horizonSteps, task.options, pace);
    }
  }
}
