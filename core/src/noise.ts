/**
 * Seeded standard normal noise (a 32-bit LCG through Box-Muller): the same seed gives the same
 * sequence on every machine, so synthetic hosts in tests and benchmarks replay identically.
 * Not for anything that needs unpredictable numbers.
 */
export function seededNormalNoise(seed: number): () => number {
  let state = seed >>> 0;
  const uniform = (): number => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return (state + 0.5) / 4294967296;
  };
  return () => Math.sqrt(-2 * Math.log(uniform())) * Math.cos(2 * Math.PI * uniform());
}
