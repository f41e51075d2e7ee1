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
  const out = readPerFileScores(json, path, source);
  for (const [profile, files] of out) checkFiles(files, `${source}: ${profile}`);
  return out;
}

/** Every entry a named file with finite scores: a hand-edited or truncated file is refused here, not summed into NaN. */
function checkFiles(files: unknown, where: string): void {
  if (!Array.isArray(files)) throw new Error(`${where}: expected a list of per-file scores, got ${typeof files}`);
  files.forEach((f: Partial<Record<keyof FileAtThreshold, unknown>> | null, i) => {
    const ok = typeof f?.name === 'string' && (['rawScore', 'nullScore', 'perfectScore', 'fp'] as const).every((k) => Number.isFinite(f[k]));
    if (!ok) throw new Error(`${where}, file ${i + 1}: needs a name and finite rawScore, nullScore, perfectScore and fp, got ${JSON.stringify(f)?.slice(0, 120)}`);
  });
}

function readPerFileScores(json: unknown, path: NestedPath, source: string): Map<string, FileAtThreshold[]> {
  const doc = json as { source?: string; profiles?: Record<string, FileAtThreshold[]>; statsOnly?: { cv: { profiles: ProfileFolds[] } }; model?: { cv: { profiles: ProfileFolds[] } } | null; full?: { profiles: ProfileFolds[] } };
  if (doc?.source === 'synthetic-nab') {
    if (typeof doc.profiles !== 'object' || doc.profiles === null || Array.isArray(doc.profiles)) throw new Error(`${source}: a synthetic-nab file without its profiles object`);
    return new Map(Object.entries(doc.profiles));
  }
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
