/**
 * Summarises a sampling heap profile written by `bench/ingest/promoted-profile.cjs`: bytes by the
 * allocating stack (its innermost `--depth` frames, default 6), largest first, so "ArrayBuffer in
 * Buffer.concat <- rawBody <- ..." reads as one line.
 *
 *   npx tsx bench/ingest/promoted-summary.ts FILE [--top 25] [--depth 6]
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

interface ProfileNode {
  callFrame: { functionName: string; url: string; lineNumber: number };
  selfSize: number;
  children: ProfileNode[];
}

const { values: args, positionals } = parseArgs({ options: { top: { type: 'string', default: '25' }, depth: { type: 'string', default: '6' } }, allowPositionals: true });
const file = positionals[0];
if (file === undefined) throw new Error('usage: promoted-summary.ts FILE [--top 25] [--depth 6]');
const depth = Number(args.depth);
const profile = JSON.parse(readFileSync(file, 'utf8')) as { head: ProfileNode; samples: Array<{ size: number }> };

const frame = (node: ProfileNode): string => {
  const where = node.callFrame.url.replace(/^.*\/(node_modules|collector|core|cli)\//, '$1/');
  return `${node.callFrame.functionName || '(anonymous)'}${where === '' ? '' : ` ${where}:${node.callFrame.lineNumber + 1}`}`;
};

const byStack = new Map<string, number>();
let total = 0;
const walk = (node: ProfileNode, stack: string[]): void => {
  const here = [...stack, frame(node)];
  if (node.selfSize > 0) {
    total += node.selfSize;
    const key = here.slice(-depth).reverse().join(' <- ');
    byStack.set(key, (byStack.get(key) ?? 0) + node.selfSize);
  }
  for (const child of node.children) walk(child, here);
};
walk(profile.head, []);
process.stdout.write(`total sampled bytes kept (promoted or alive): ${(total / 1048576).toFixed(1)} MB in ${profile.samples.length} samples\n`);
for (const [stack, bytes] of [...byStack.entries()].sort((a, b) => b[1] - a[1]).slice(0, Number(args.top))) {
  process.stdout.write(`${(bytes / 1048576).toFixed(2).padStart(7)} MB  ${stack}\n`);
}
