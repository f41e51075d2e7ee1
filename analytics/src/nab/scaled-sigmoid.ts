/**
 * NAB's scaled sigmoid of a relative position: 2·sigmoid(−5y) − 1 = 2/(1+e^{5y}) − 1, and −1 beyond
 * three window lengths past a window. y = −1 is a window's left edge (0.98661), y = 0 its right
 * edge (0), y > 0 lies after the window (negative, a false positive).
 */
export function scaledSigmoid(relativePosition: number): number {
  if (relativePosition > 3) return -1;
  return 2 / (1 + Math.exp(5 * relativePosition)) - 1;
}
