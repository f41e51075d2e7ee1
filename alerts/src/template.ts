import type { AlertLabels } from './labels.js';

/** What a summary/description template can refer to. */
export interface TemplateData {
  labels: AlertLabels;
  value?: number | undefined;
  threshold?: number | undefined;
  expectedLow?: number | undefined;
  expectedHigh?: number | undefined;
}

type Piece = string | ((data: TemplateData) => string);

const cache = new Map<string, Piece[]>();

/**
 * Renders `{{ $value }}`, `{{ $labels.agent }}`, `{{ $threshold }}`,
 * `{{ $expected_low }}`, `{{ $expected_high }}` with optional pipes
 * `humanize`, `humanizePercentage` and `round`. The subset is Prometheus's
 * own syntax, so exported rules keep their templates. Unknown references
 * render as `<unknown $x>` rather than failing a notification.
 */
export function renderTemplate(template: string, data: TemplateData): string {
  let pieces = cache.get(template);
  if (pieces === undefined) {
    pieces = compile(template);
    if (cache.size > 10_000) cache.clear();
    cache.set(template, pieces);
  }
  let out = '';
  for (const piece of pieces) out += typeof piece === 'string' ? piece : piece(data);
  return out;
}

/** References a template uses that are not in the Prometheus subset (for export). */
export function slothOnlyReferences(template: string): string[] {
  return [...template.matchAll(/\{\{\s*(\$[a-z_]+)/g)].map((m) => m[1] as string).filter((ref) => ref !== '$value' && ref !== '$labels');
}

function compile(template: string): Piece[] {
  const pieces: Piece[] = [];
  let last = 0;
  for (const match of template.matchAll(/\{\{\s*([^}]*?)\s*\}\}/g)) {
    pieces.push(template.slice(last, match.index));
    last = (match.index ?? 0) + match[0].length;
    const [ref = '', ...pipes] = (match[1] ?? '').split('|').map((p) => p.trim());
    const read = reference(ref);
    const fns = pipes.map(pipe);
    pieces.push((data) => {
      let value: unknown = read(data);
      for (const fn of fns) value = fn(value);
      return value === undefined ? '' : typeof value === 'number' ? formatNumber(value) : typeof value === 'string' ? value : JSON.stringify(value);
    });
  }
  pieces.push(template.slice(last));
  return pieces;
}

function reference(ref: string): (data: TemplateData) => unknown {
  if (ref === '$value' || ref === '.Value') return (d) => d.value;
  if (ref === '$threshold') return (d) => d.threshold;
  if (ref === '$expected_low') return (d) => d.expectedLow;
  if (ref === '$expected_high') return (d) => d.expectedHigh;
  const label = /^\$labels\.([A-Za-z_][A-Za-z0-9_]*)$/.exec(ref);
  if (label !== null) return (d) => d.labels[label[1] as string] ?? '';
  return () => `<unknown ${ref}>`;
}

function pipe(name: string): (value: unknown) => unknown {
  switch (name) {
    case 'humanize':
      return (v) => (typeof v === 'number' ? humanize(v) : v);
    case 'humanizePercentage':
      return (v) => (typeof v === 'number' ? `${formatNumber(v * 100)}%` : v);
    case 'round':
      return (v) => (typeof v === 'number' ? Math.round(v) : v);
    default:
      return (v) => `${String(v)}<unknown function ${name}>`;
  }
}

function formatNumber(value: number): string {
  if (Number.isInteger(value)) return String(value);
  return String(Number(value.toPrecision(4)));
}

function humanize(value: number): string {
  const abs = Math.abs(value);
  for (const [size, suffix] of [[1e12, 'T'], [1e9, 'G'], [1e6, 'M'], [1e3, 'k']] as const) {
    if (abs >= size) return `${formatNumber(value / size)}${suffix}`;
  }
  return formatNumber(value);
}
