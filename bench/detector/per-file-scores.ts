import type { FileAtThreshold } from '@sloth/analytics';

/** Which detector path of a nested run (`nested.json`) to compare. */
export type NestedPath = 'stats' | 'model' | 'full';

type ProfileFolds = { profile: string; folds: Array<{ heldOut: { files?: FileAtThreshold[] } }> };

/**
 * Per profile, every held-out file's NAB scores at the threshold its variant chose, from either
 * `sloth bench nab --cv --nested --out DIR`'s `nested.json` (the chosen `path`; the held-out files of
 * every fold) or `synthetic-nab.ts --per-file-out FILE`. Throws naming what is missing.
 */
export function perFileScores(json: unknown, path: NestedPath, source: string): Map<string, FileAtThreshold[]> {
  const doc = json as { source?: string; profiles?: Record<string, FileAtThreshold[]>; statsOnly?: { cv: { profiles: ProfileFolds[] } }; model?: { cv: { profiles: ProfileFolds[] } } | null; full?: { profiles: ProfileFolds[] } };
  if (doc?.source === 'synthetic-nab' && doc.profiles !== undefined) return new Map(Object.entries(doc.profiles));
  if (doc?.statsOnly === undefined) throw new Error(`${source}: neither a nested.json (from sloth bench nab --cv --nested) nor a synthetic-nab --per-file-out file`);
  const cv = path === 'stats' ? doc.statsOnly.cv : path === 'model' ? doc.model?.cv : doc.full;
  if (cv === undefined || cv === null) throw new Error(`${source}: has no ${path} path (a --stats-only run holds only stats)`);
  const out = new Map<string, FileAtThreshold[]>();
  for (const p of cv.profiles) {
    const files = p.folds.flatMap((f) => {
      if (f.heldOut.files === undefined) throw new Error(`${source}: written before per-file scores were recorded; run it again`);
      return f.heldOut.files;
    });
    out.set(p.profile, files);
  }
  return out;
}
