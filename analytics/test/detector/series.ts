/** A generated daily-seasonal series with noise and one spike (deterministic). */
export function generatedSeries(length: number, spikeAt = Math.floor(length * 0.8)): Array<{ timestampMillis: number; value: number }> {
  let seed = 7;
  const random = (): number => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return seed / 2147483648;
  };
  const start = Date.UTC(2024, 0, 1);
  return Array.from({ length }, (_, i) => ({
    timestampMillis: start + i * 3_600_000,
    value: 50 + 20 * Math.sin((2 * Math.PI * i) / 24) + 2 * (random() - 0.5) + (i === spikeAt ? 60 : 0),
  }));
}

/** Small, fast model settings so tests train several times within a few hundred rows. */
export const fastModel = { algorithm: 'legacy', useModel: true, minTrainRows: 100, retrainEveryRows: 120, trainWindowRows: 240, lagRows: 6, hiddenUnits: 4, epochs: 2 } as const;
