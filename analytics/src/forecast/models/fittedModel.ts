/** A model whose parameters are fixed: it forecasts from any origin of a series it is handed. */
export interface FittedModel {
  readonly name: string;
  /**
   * Point forecasts for the `horizon` steps after each origin (the index of the last value the forecast
   * may use). Origins are ascending; the model reads `values` up to and including each origin only.
   */
  forecastFrom(values: Float64Array, origins: readonly number[], horizon: number): Float64Array[];
}
