/**
 * Signals a whole process group (a command spawned `detached`, so it leads its own group, with every
 * child it started); a group that is already gone is fine.
 */
export function signalGroup(pgid: number | undefined, signal: NodeJS.Signals): void {
  if (pgid === undefined) return;
  try {
    process.kill(-pgid, signal);
  } catch {
    // the group is gone
  }
}
