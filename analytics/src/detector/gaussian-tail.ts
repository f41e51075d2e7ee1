/**
 * Natural log of the upper tail probability Q(z) = P(Z > z) of the standard normal, accurate in the
 * far tail (no underflow): erfc via Numerical Recipes' Chebyshev fit (|relative error| < 1.2e-7),
 * which has the form t·exp(poly), so its log is exact arithmetic.
 */
export function logNormalTail(z: number): number {
  if (z < 0) return Math.log(1 - Math.exp(logNormalTail(-z)));
  const x = z / Math.SQRT2;
  const t = 1 / (1 + 0.5 * x);
  const poly =
    -x * x -
    1.26551223 +
    t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277))))))));
  return Math.log(0.5 * t) + poly;
}
