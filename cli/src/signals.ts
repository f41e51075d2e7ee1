/** Resolves with the signal's name at the first SIGINT or SIGTERM. */
export async function waitForStopSignal(): Promise<NodeJS.Signals> {
  return await new Promise((resolve) => {
    const stop = (signal: NodeJS.Signals): void => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      resolve(signal);
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
}

/** Prints one line on stdout. */
export function out(line: string): void {
  process.stdout.write(`${line}\n`);
}
