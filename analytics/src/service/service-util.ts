/** Waits for `promise` at most `millis`; true when it settled (fulfilled or rejected) in time. */
export async function settlesWithin(promise: Promise<unknown> | undefined, millis: number): Promise<boolean> {
  if (promise === undefined) return true;
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), millis);
  });
  try {
    return await Promise.race([promise.then(() => true, () => true), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** `mlp-v7` → 7; `stats` (no model yet) → 0. */
export function modelVersionNumber(modelVersion: string): number {
  const match = /(\d+)$/.exec(modelVersion);
  return match === null ? 0 : Number(match[1]);
}
