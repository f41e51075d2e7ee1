/** One NAB cost profile (NAB v1.1 `config/profiles.json`). */
export interface NabProfile {
  name: NabProfileName;
  tpWeight: number;
  fpWeight: number;
  fnWeight: number;
  tnWeight: number;
}

export type NabProfileName = 'standard' | 'reward_low_FP_rate' | 'reward_low_FN_rate';

/** The three NAB application profiles. */
export const nabProfiles: readonly NabProfile[] = Object.freeze([
  { name: 'standard', tpWeight: 1, fpWeight: 0.11, fnWeight: 1, tnWeight: 1 },
  { name: 'reward_low_FP_rate', tpWeight: 1, fpWeight: 0.22, fnWeight: 1, tnWeight: 1 },
  { name: 'reward_low_FN_rate', tpWeight: 1, fpWeight: 0.11, fnWeight: 2, tnWeight: 1 },
]);

/** Fraction of each file NAB ignores at its start. */
export const nabProbationPercent = 0.15;

/** Rows of the probationary period of a file of `rowCount` rows: min(floor(15 %), 750). */
export function probationaryRows(rowCount: number): number {
  return Math.min(Math.floor(nabProbationPercent * rowCount), nabProbationPercent * 5000);
}
