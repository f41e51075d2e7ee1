/**
 * Summarises a V8 heap snapshot: the objects that take the most memory,
 * grouped by type, property names and the first thing that holds them (so
 * "132,000 Maps held by `values`" rather than "132,000 Maps"), plus strings
 * by holder. Used for the per-series memory figures in docs/benchmarks.md.
 *
 *   npx tsx bench/ingest/run.ts --agents 200 --rate 75000 --node-flags="--heapsnapshot-signal=SIGUSR2 --diagnostic-dir=/tmp/snap" &
 *   sleep 25; kill -USR2 "$(pgrep -f 'main.js collector')"
 *   node --max-old-space-size=12000 --import tsx bench/ingest/heap-summary.ts /tmp/snap/*.heapsnapshot [--top 30]
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

interface Snapshot {
  snapshot: { meta: { node_fields: string[]; node_types: [string[]]; edge_fields: string[]; edge_types: [string[]] } };
  nodes: number[];
  edges: number[];
  strings: string[];
}

const { values: args, positionals } = parseArgs({ options: { top: { type: 'string', default: '30' } }, allowPositionals: true });
const file = positionals[0];
if (file === undefined) throw new Error('usage: heap-summary.ts FILE.heapsnapshot [--top N]');
const top = Number(args.top);

const snap = JSON.parse(readFileSync(file, 'utf8')) as Snapshot;
const { node_fields: nodeFields, node_types: [nodeTypes], edge_fields: edgeFields, edge_types: [edgeTypes] } = snap.snapshot.meta;
const { nodes, edges, strings } = snap;
const N = nodeFields.length;
const E = edgeFields.length;
const [iType, iName, iSize, iEdges] = ['type', 'name', 'self_size', 'edge_count'].map((f) => nodeFields.indexOf(f)) as [number, number, number, number];
const [eType, eName, eTo] = ['type', 'name_or_index', 'to_node'].map((f) => edgeFields.indexOf(f)) as [number, number, number];
const count = nodes.length / N;
const at = (node: number, field: number): number => nodes[node * N + field] as number;
const typeOf = (node: number): string => nodeTypes[at(node, iType)] as string;
const nameOf = (node: number): string => strings[at(node, iName)] as string;

const firstEdge = new Uint32Array(count + 1);
for (let i = 0, e = 0; i < count; i++) {
  firstEdge[i] = e;
  e += at(i, iEdges) * E;
}
firstEdge[count] = edges.length;

// The first strong holder of each node, and the edge's name.
const holder = new Int32Array(count).fill(-1);
const holderEdge: string[] = new Array<string>(count).fill('');
for (let i = 0; i < count; i++) {
  for (let e = firstEdge[i] as number; e < (firstEdge[i + 1] as number); e += E) {
    const kind = edgeTypes[edges[e + eType] as number] as string;
    if (kind === 'weak' || kind === 'shortcut') continue;
    const to = (edges[e + eTo] as number) / N;
    if (holder[to] !== -1) continue;
    holder[to] = i;
    holderEdge[to] = kind === 'element' || kind === 'hidden' ? `[${kind}]` : (strings[edges[e + eName] as number] as string);
  }
}

const describe = (node: number): string => `${typeOf(node)}:${nameOf(node).slice(0, 30)}`;
const properties = (node: number): string => {
  const names: string[] = [];
  for (let e = firstEdge[node] as number; e < (firstEdge[node + 1] as number) && names.length < 8; e += E) {
    if (edgeTypes[edges[e + eType] as number] === 'property') names.push(strings[edges[e + eName] as number] as string);
  }
  return names.join(',');
};
const holderText = (node: number): string => (holder[node] === -1 ? '?' : `${describe(holder[node] as number)}.${holderEdge[node]}`);

const backing = new Set(['array', 'hidden', 'number']);
const objects = new Map<string, [bytes: number, count: number]>();
const texts = new Map<string, [bytes: number, count: number]>();
let total = 0;
for (let i = 0; i < count; i++) {
  const type = typeOf(i);
  const size = at(i, iSize);
  total += size;
  if (type === 'string' || type === 'concatenated string' || type === 'sliced string') {
    const entry = texts.get(holderText(i)) ?? [0, 0];
    entry[0] += size;
    entry[1] += 1;
    texts.set(holderText(i), entry);
    continue;
  }
  if (backing.has(type)) continue;
  // An object's own backing stores (elements, property arrays, hash tables) count with it.
  let bytes = size;
  for (let e = firstEdge[i] as number; e < (firstEdge[i + 1] as number); e += E) {
    const to = (edges[e + eTo] as number) / N;
    if (backing.has(typeOf(to)) && holder[to] === i) bytes += at(to, iSize);
  }
  const key = `${describe(i)} {${type === 'object' ? properties(i) : ''}} <- ${holderText(i)}`;
  const entry = objects.get(key) ?? [0, 0];
  entry[0] += bytes;
  entry[1] += 1;
  objects.set(key, entry);
}

const print = (title: string, rows: Map<string, [number, number]>): void => {
  process.stdout.write(`${title}\n      MB    count  what <- first holder\n`);
  for (const [key, [bytes, n]] of [...rows].sort((a, b) => b[1][0] - a[1][0]).slice(0, top)) {
    process.stdout.write(`${(bytes / 1e6).toFixed(2).padStart(8)} ${String(n).padStart(8)}  ${key.slice(0, 160)}\n`);
  }
};
process.stdout.write(`live heap in the snapshot: ${(total / 1e6).toFixed(1)} MB, ${count} nodes\n`);
print('objects (with their own backing stores)', objects);
print('strings', texts);
