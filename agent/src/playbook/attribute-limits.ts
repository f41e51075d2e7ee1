import { utf8Prefix } from '@sloth/core/utf8';

// Bounds on what one log record or action record of a playbook may hold. Applied where a
// record leaves the sandbox (worker thread, before it is posted to the host) and again where
// the host takes it in, so that neither side ever holds an unbounded copy.

/** Attributes one record keeps (top level, and entries of each nested table). */
export const maxRecordAttributes = 32;
/** Longest attribute key, in UTF-8 bytes. */
export const maxAttributeKeyBytes = 256;
/** Longest string value, in UTF-8 bytes (longer ones are cut at a character boundary and end in `…`). */
export const maxAttributeValueBytes = 4096;
/** Nesting depth of tables inside an attribute value. */
export const maxAttributeDepth = 4;
/** Values (leaves and tables) one record keeps in all; guards against wide and deep nesting together. */
export const maxRecordValues = 256;

const ellipsis = '…';
const ellipsisBytes = 3;

/** `text` cut to at most `maxBytes` UTF-8 bytes at a character boundary, ending in `…` when it was cut. */
export function cutUtf8(text: string, maxBytes: number): string {
  // A UTF-16 unit is 1 to 3 UTF-8 bytes: most strings are decided without counting, and a long one is never scanned whole.
  if (text.length * 3 <= maxBytes) return text;
  if (text.length <= maxBytes && Buffer.byteLength(text, 'utf8') <= maxBytes) return text;
  return `${utf8Prefix(text, maxBytes - ellipsisBytes)}${ellipsis}`;
}

/** A record's attributes after bounding, with their approximate size. */
export interface BoundedAttributes {
  attrs: Record<string, unknown>;
  /** UTF-8 bytes of keys and strings, plus 8 per other value: what the record costs to keep. */
  bytes: number;
  /** Attributes or values left out (over a count, depth or the values budget). */
  dropped: number;
}

interface Walk {
  values: number;
  bytes: number;
  dropped: number;
  /** What to do with a function: a record from the sandbox refuses it, like every host call. */
  onFunction: (path: string) => unknown;
}

function boundValue(value: unknown, depth: number, walk: Walk, path: string): unknown {
  if (walk.values >= maxRecordValues) {
    walk.dropped += 1;
    return undefined;
  }
  walk.values += 1;
  switch (typeof value) {
    case 'string': {
      const cut = cutUtf8(value, maxAttributeValueBytes);
      walk.bytes += Buffer.byteLength(cut, 'utf8');
      return cut;
    }
    case 'number':
    case 'boolean':
      walk.bytes += 8;
      return value;
    case 'function':
      return walk.onFunction(path);
    case 'object': {
      if (value === null) return undefined;
      if (depth >= maxAttributeDepth) {
        walk.dropped += 1;
        walk.bytes += 24;
        return '(nested too deep)';
      }
      return boundTable(value, depth + 1, walk, path);
    }
    default:
      // undefined, bigint, symbol: nothing a Lua value converts to; leave it out.
      return undefined;
  }
}

function boundTable(table: object, depth: number, walk: Walk, path: string): unknown {
  if (Array.isArray(table)) {
    const out: unknown[] = [];
    for (let i = 0; i < table.length; i++) {
      if (out.length >= maxRecordAttributes) {
        walk.dropped += table.length - i;
        break;
      }
      const v = boundValue(table[i] as unknown, depth, walk, `${path}[${i + 1}]`);
      if (v !== undefined) out.push(v);
    }
    return out;
  }
  const out: Record<string, unknown> = {};
  let kept = 0;
  // for…in, not Object.keys: no array of every key of a huge table is built.
  for (const rawKey in table) {
    if (!Object.hasOwn(table, rawKey)) continue;
    if (kept >= maxRecordAttributes) {
      walk.dropped += 1;
      continue;
    }
    const key = cutUtf8(rawKey, maxAttributeKeyBytes);
    const v = boundValue((table as Record<string, unknown>)[rawKey], depth, walk, path === '' ? key : `${path}.${key}`);
    if (v === undefined) continue;
    walk.bytes += Buffer.byteLength(key, 'utf8');
    out[key] = v;
    kept += 1;
  }
  return out;
}

/**
 * At most {@link maxRecordAttributes} attributes, keys of at most {@link maxAttributeKeyBytes},
 * strings of at most {@link maxAttributeValueBytes}, tables nested at most {@link maxAttributeDepth}
 * deep, {@link maxRecordValues} values in all. A non-table gives no attributes. Functions are
 * refused with an error (`onFunction` may instead return a stand-in).
 */
export function boundAttributes(value: unknown, onFunction?: (path: string) => unknown): BoundedAttributes {
  const walk: Walk = {
    values: 0,
    bytes: 0,
    dropped: 0,
    onFunction:
      onFunction ??
      ((path) => {
        throw new Error(`functions cannot be passed to the host (attribute ${path})`);
      }),
  };
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return { attrs: {}, bytes: 0, dropped: 0 };
  const attrs = boundTable(value, 0, walk, '') as Record<string, unknown>;
  return { attrs, bytes: walk.bytes, dropped: walk.dropped };
}
