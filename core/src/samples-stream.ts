import { InputError } from './errors.js';
import { parseSeriesId, type Sample, type SeriesRef } from './model.js';

/**
 * The `sloth:samples` stream's entry layouts: one sample an entry (the first
 * layout) and batches of many samples in columns (what the collector writes).
 * Defined once here; producers and consumers import these functions.
 */

/** What a stream entry carries of a sample (the name and labels are in the series id). */
export type SampleFields = Pick<Sample, 'seriesId' | 'agentId' | 'timestampMillis' | 'value'> & { readonly kind?: SampleKind };

/**
 * Encodes one sample as a single-sample entry of the `sloth:samples` stream
 * (the first layout; the collector writes batches, see
 * {@link encodeSampleBatch}): `s` series id, `a` agent id, `t` Unix
 * milliseconds, `v` value. {@link decodeSampleEntry} reads both layouts.
 */
export function encodeSampleMessage(sample: SampleFields): string[] {
  return ['s', sample.seriesId, 'a', sample.agentId, 't', String(sample.timestampMillis), 'v', String(sample.value)];
}

/**
 * How a sample's value is to be read: `gauge` (a gauge or a non-monotonic sum: the value itself),
 * `cumulative` (a monotonic sum since a start time: its rate is what a human looks at; a drop is a
 * reset) or `delta` (a monotonic sum over the interval since the series' previous point).
 */
export type SampleKind = 'gauge' | 'cumulative' | 'delta';

const sampleKindCodes: Readonly<Record<SampleKind, string>> = { gauge: 'g', cumulative: 'c', delta: 'd' };
const sampleKindsByCode: Readonly<Record<string, SampleKind>> = { g: 'gauge', c: 'cumulative', d: 'delta' };

/** Samples column-wise: sample `i` is `seriesIds[i]`, sent by `agentIds[i]`, at `timestampsMillis[i]` with `values[i]`. */
export interface SampleColumns {
  readonly length: number;
  readonly seriesIds: readonly string[];
  readonly agentIds: readonly string[];
  readonly timestampsMillis: readonly number[];
  readonly values: readonly number[];
  /**
   * How each value is to be read; absent in entries written before the column existed (and by
   * producers that do not know), which readers treat as `gauge` for every sample.
   */
  readonly kinds?: readonly SampleKind[];
  /**
   * Each series id as a JSON string literal in UTF-8, quotes included (`Buffer.from(JSON.stringify(id))`),
   * e.g. kept per series by a producer that sends the same series again and again: {@link encodeSampleBatchBytes}
   * then copies these bytes instead of escaping and encoding `seriesIds`. Must match `seriesIds`.
   */
  readonly seriesIdsJson?: readonly Uint8Array[];
}

/** The field of a batch entry; its value is the JSON of the samples' columns. */
export const sampleBatchField = 'b';

/**
 * Encodes many samples as one batch entry of the samples stream: the single
 * field `b` holding the JSON `{"s":[series ids],"a":[agent ids],"t":[timestamps],"v":"<base64>"}`.
 * `a` and `t` are a single string and number instead when every sample shares
 * them (one agent's request, one scrape time). `v` is the values as
 * little-endian IEEE-754 doubles in base64: formatting full-precision doubles
 * as text cost ten times as much (the decoder also takes an array of numbers).
 * Timestamps and values must be finite. With `kinds`, the optional field `k`
 * holds each sample's {@link SampleKind} as `g`, `c` or `d` (one letter when
 * every sample shares it, else a string of one letter per sample); entries
 * without `k` decode as before (no `kinds`).
 */
export function encodeSampleBatch(samples: SampleColumns | readonly SampleFields[]): string[] {
  return [sampleBatchField, batchParts(samples).join('')];
}

/**
 * The value of a batch entry's `b` field (see {@link encodeSampleBatch}) as UTF-8 bytes, for clients
 * that send Buffers: written part by part, it skips building (and copying) the JSON as one string.
 */
export function encodeSampleBatchBytes(samples: SampleColumns | readonly SampleFields[]): Buffer {
  const text = prepareSampleBatch(samples);
  const bytes = Buffer.allocUnsafe(text.byteLength);
  text.write(bytes, 0);
  return bytes;
}

/** A batch entry's `b` value, measured and ready to be written into a caller's buffer. */
export interface SampleBatchText {
  /** Bytes that {@link SampleBatchText.write} writes. */
  readonly byteLength: number;
  /** Writes the bytes at `offset` (throws a RangeError when `target` is too short); returns `byteLength`. */
  write(target: Buffer, offset: number): number;
}

/**
 * The same bytes as {@link encodeSampleBatchBytes}, for a producer that writes them into a buffer it
 * reuses (with whatever it sends around them): no buffer of the entry's size is allocated here. The
 * columns are checked and formatted at once (bad values throw as in {@link encodeSampleBatch}); the
 * result holds the columns, so write it before they change.
 */
export function prepareSampleBatch(samples: SampleColumns | readonly SampleFields[]): SampleBatchText {
  const columns = 'seriesIds' in samples ? samples : sampleColumns(samples);
  const ids = columns.seriesIdsJson;
  if (ids === undefined) {
    const text = batchParts(columns).join('');
    const byteLength = Buffer.byteLength(text);
    return { byteLength, write: (target, offset) => writeFully(target, text, offset, byteLength) };
  }
  if (ids.length !== columns.length) throw new InputError(`cannot encode a samples batch: it has length ${columns.length} but ${ids.length} encoded series ids`);
  // The same text as JSON.stringify(seriesIds), from the producer's bytes: `{"s":[` ids `]` and the rest.
  const rest = batchParts(columns, false).join('');
  const restLength = Buffer.byteLength(rest);
  let byteLength = 6 + Math.max(0, ids.length - 1) + 1 + restLength;
  for (const id of ids) byteLength += id.length;
  return {
    byteLength,
    write: (target, start) => {
      checkFits(target, start, byteLength);
      let offset = start + target.write('{"s":[', start, 'latin1');
      for (let i = 0; i < ids.length; i += 1) {
        if (i > 0) target[offset++] = 0x2c; // ,
        const id = ids[i] as Uint8Array;
        target.set(id, offset);
        offset += id.length;
      }
      target[offset++] = 0x5d; // ]
      target.write(rest, offset, restLength, 'utf8');
      return byteLength;
    },
  };
}

/** A short target is a RangeError before anything is written, never a cut entry. */
function checkFits(target: Buffer, offset: number, byteLength: number): void {
  if (offset < 0 || offset + byteLength > target.length) throw new RangeError(`a samples batch of ${byteLength} bytes does not fit at ${offset} in a buffer of ${target.length}`);
}

/** Writes all of `text` (`byteLength` bytes of UTF-8) at `offset` ({@link checkFits}). */
function writeFully(target: Buffer, text: string, offset: number, byteLength: number): number {
  checkFits(target, offset, byteLength);
  target.write(text, offset, byteLength, 'utf8');
  return byteLength;
}

const hostIsLittleEndian = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** Batches up to this many samples format their doubles in one reused array (none of the entry's size is allocated per batch). */
const scratchSamples = 4_096;
let scratchDoubles: Float64Array | undefined;

/** The values as little-endian IEEE-754 doubles, in base64. */
function doublesBase64(values: readonly number[], length: number): string {
  if (!hostIsLittleEndian) {
    const bytes = Buffer.allocUnsafe(8 * length);
    for (let i = 0; i < length; i += 1) bytes.writeDoubleLE(values[i] as number, 8 * i);
    return bytes.toString('base64');
  }
  // The base64 text is made before this returns, so the scratch array is free again for the next batch.
  const doubles = length <= scratchSamples ? (scratchDoubles ??= new Float64Array(scratchSamples)) : new Float64Array(length);
  for (let i = 0; i < length; i += 1) doubles[i] = values[i] as number;
  return Buffer.from(doubles.buffer, doubles.byteOffset, 8 * length).toString('base64');
}

/**
 * The JSON of a batch in a few pieces (the series ids are one). Without `withSeriesIds`, the pieces
 * after the series ids array (`,"a":…}`), for a caller that writes `{"s":[…]` itself.
 */
function batchParts(samples: SampleColumns | readonly SampleFields[], withSeriesIds = true): string[] {
  const columns = 'seriesIds' in samples ? samples : sampleColumns(samples);
  const { length } = columns;
  for (const [key, column] of [['seriesIds', columns.seriesIds], ['agentIds', columns.agentIds], ['timestampsMillis', columns.timestampsMillis], ['values', columns.values]] as const) {
    if (column.length !== length) throw new InputError(`cannot encode a samples batch: it has length ${length} but ${column.length} ${key}`);
  }
  const agents = uniformOrAll(columns.agentIds, length);
  const times = uniformOrAll(columns.timestampsMillis, length);
  for (let i = 0; i < length; i += 1) {
    if (!Number.isFinite(columns.timestampsMillis[i])) unencodable(i, 'timestamp', columns.timestampsMillis[i] as number);
    if (!Number.isFinite(columns.values[i])) unencodable(i, 'value', columns.values[i] as number);
  }
  // Integer timestamps join faster than JSON.stringify formats them, to the same text.
  const t = typeof times === 'number' ? String(times) : `[${times.join(',')}]`;
  const k = columns.kinds === undefined ? '' : `,"k":${JSON.stringify(kindCodes(columns.kinds, length))}`;
  const after = [',"a":', JSON.stringify(agents), `,"t":${t}`, k, ',"v":"', doublesBase64(columns.values, length), '"}'];
  return withSeriesIds ? ['{"s":', JSON.stringify(columns.seriesIds), ...after] : after;
}

/** The `k` field: one letter for a uniform batch, else one letter per sample. */
function kindCodes(kinds: readonly SampleKind[], length: number): string {
  if (kinds.length !== length) throw new InputError(`cannot encode a samples batch: it has length ${length} but ${kinds.length} kinds`);
  const uniform = uniformOrAll(kinds, length);
  if (typeof uniform === 'string') return sampleKindCodes[uniform];
  let codes = '';
  for (const kind of kinds) {
    const code = sampleKindCodes[kind] as string | undefined;
    if (code === undefined) throw new InputError(`cannot encode a samples batch: sample kind ${JSON.stringify(kind)} is not one of gauge, cumulative, delta`);
    codes += code;
  }
  return codes;
}

/** The `k` field back into kinds; undefined (read as gauges) when absent. */
function decodeKinds(field: unknown, length: number): SampleKind[] | undefined {
  if (field === undefined) return undefined;
  if (typeof field !== 'string' || (field.length !== 1 && field.length !== length)) {
    throw new InputError(`samples-stream batch entry: "k" (sample kinds) must be one letter g, c or d, or one letter per sample (${length}), not ${describeJson(field)}`);
  }
  const kinds = new Array<SampleKind>(length);
  for (let i = 0; i < length; i += 1) {
    const code = field.length === 1 ? field : field[i]!;
    const kind = sampleKindsByCode[code];
    if (kind === undefined) throw new InputError(`samples-stream batch entry: "k" (sample kinds) has ${JSON.stringify(code)} at ${i}; use g (gauge), c (cumulative) or d (delta)`);
    kinds[i] = kind;
  }
  return kinds;
}

function unencodable(index: number, what: string, value: number): never {
  throw new InputError(`cannot encode sample ${index} of a samples batch: its ${what} ${value} is not a finite number`, { index });
}

/** Sample objects → columns. */
function sampleColumns(samples: readonly SampleFields[]): SampleColumns {
  return {
    length: samples.length,
    seriesIds: samples.map((s) => s.seriesId),
    agentIds: samples.map((s) => s.agentId),
    timestampsMillis: samples.map((s) => s.timestampMillis),
    values: samples.map((s) => s.value),
    ...(samples.some((s) => s.kind !== undefined) ? { kinds: samples.map((s) => s.kind ?? 'gauge') } : {}),
  };
}

function uniformOrAll<T>(column: readonly T[], length: number): T | readonly T[] {
  const first = column[0];
  if (length === 0) return column;
  for (let i = 1; i < length; i += 1) if (column[i] !== first) return column;
  return first as T;
}

/**
 * A sample of an entry that is not valid: where it is in the entry, what is
 * wrong, and its series id when it has a usable one (consumers that shard by
 * series count the problem in the shard that owns it).
 */
export interface BadSample {
  readonly index: number;
  readonly reason: string;
  readonly seriesId: string | undefined;
}

/**
 * Decodes an entry of the samples stream, in either layout (one sample `s a t v`,
 * or a batch `b`), into columns without parsing the series ids. Timestamps and
 * values must be finite numbers and series ids non-empty. A bad sample is
 * handed to `onBadSample` and left out (the others are kept); without
 * `onBadSample` it throws. An entry that cannot be read at all (neither
 * layout, batch not JSON, columns of different lengths) always throws an
 * {@link InputError} naming what is wrong.
 */
export function decodeSampleColumns(fields: readonly string[], onBadSample?: (problem: BadSample) => void): SampleColumns {
  return decodeColumns(fields, onBadSample ?? throwBadSample).columns;
}

/** Decoded columns, and the index in the entry of each kept sample when some were left out. */
interface DecodedColumns {
  readonly columns: SampleColumns;
  readonly kept?: readonly number[];
}

function decodeColumns(fields: readonly string[], report: (problem: BadSample) => void): DecodedColumns {
  let batch: string | undefined;
  let s: string | undefined;
  let a: string | undefined;
  let t: string | undefined;
  let v: string | undefined;
  for (let i = 0; i + 1 < fields.length; i += 2) {
    const key = fields[i];
    const text = fields[i + 1];
    if (key === sampleBatchField) batch = text;
    else if (key === 's') s = text;
    else if (key === 'a') a = text;
    else if (key === 't') t = text;
    else if (key === 'v') v = text;
  }
  if (batch !== undefined) return decodeBatch(batch, report);
  if (s === undefined) {
    throw new InputError(`samples-stream entry has neither a "b" (batch) nor an "s" (series id) field; its field names are ${describeFieldNames(fields)}`, { fields: fields.slice(0, 8) });
  }
  const timestampMillis = t === undefined || t === '' ? Number.NaN : Number(t);
  const value = v === undefined || v === '' ? Number.NaN : Number(v);
  let reason: string | undefined;
  if (s === '') reason = 'the series id "s" is empty';
  else if (a === undefined) reason = 'there is no agent id "a"';
  else if (!Number.isFinite(timestampMillis)) reason = t === undefined ? 'there is no timestamp "t"' : `the timestamp "t" is ${JSON.stringify(t)}, not a finite number of Unix milliseconds`;
  else if (!Number.isFinite(value)) reason = v === undefined ? 'there is no value "v"' : `the value "v" is ${JSON.stringify(v)}, not a finite number`;
  if (reason !== undefined) {
    report({ index: 0, reason, seriesId: s === '' ? undefined : s });
    return { columns: emptyColumns };
  }
  return { columns: { length: 1, seriesIds: [s], agentIds: [a as string], timestampsMillis: [timestampMillis], values: [value] } };
}

/**
 * Decodes an entry of the samples stream, in either layout, into samples with
 * name and labels parsed from the series id. Bad samples (including malformed
 * series ids) go to `onBadSample` and are left out, or throw without it; see
 * {@link decodeSampleColumns}.
 */
export function decodeSampleEntry(fields: readonly string[], onBadSample?: (problem: BadSample) => void): Sample[] {
  const report = onBadSample ?? throwBadSample;
  const { columns, kept } = decodeColumns(fields, report);
  const samples: Sample[] = [];
  for (let i = 0; i < columns.length; i += 1) {
    const id = columns.seriesIds[i] as string;
    let ref: SeriesRef;
    try {
      ref = parseSeriesId(id);
    } catch (error) {
      report({ index: kept === undefined ? i : (kept[i] as number), reason: (error as Error).message, seriesId: id });
      continue;
    }
    samples.push({ seriesId: id, name: ref.name, labels: ref.labels, agentId: columns.agentIds[i] as string, timestampMillis: columns.timestampsMillis[i] as number, value: columns.values[i] as number });
  }
  return samples;
}

const emptyColumns: SampleColumns = { length: 0, seriesIds: [], agentIds: [], timestampsMillis: [], values: [] };

function throwBadSample(problem: BadSample): never {
  throw new InputError(`samples-stream entry: sample ${problem.index} is not valid: ${problem.reason}`, { index: problem.index, seriesId: problem.seriesId });
}

function describeFieldNames(fields: readonly string[]): string {
  const names: string[] = [];
  for (let i = 0; i < fields.length && names.length < 8; i += 2) names.push(JSON.stringify(fields[i]));
  return names.length === 0 ? 'none' : names.join(', ');
}

function decodeBatch(text: string, report: (problem: BadSample) => void): DecodedColumns {
  let payload: unknown;
  try {
    payload = JSON.parse(text);
  } catch (error) {
    throw new InputError(`samples-stream batch entry: field "b" is not JSON (${(error as Error).message}); it starts ${JSON.stringify(text.slice(0, 40))}`);
  }
  if (payload === null || typeof payload !== 'object' || Array.isArray(payload)) {
    throw new InputError(`samples-stream batch entry: field "b" must be a JSON object {"s":[…],"a":…,"t":…,"v":[…]}, not ${JSON.stringify(text.slice(0, 40))}`);
  }
  const { s, a, t, k } = payload as Record<string, unknown>;
  if (!Array.isArray(s)) throw new InputError(`samples-stream batch entry: "s" (series ids) must be an array, not ${describeJson(s)}`);
  const v = batchValues((payload as Record<string, unknown>).v);
  const length = s.length;
  const kinds = decodeKinds(k, length);
  if (v.length !== length) throw new InputError(`samples-stream batch entry: "s" has ${length} series ids but "v" has ${v.length} values`);
  const agents = batchColumn<string>(a, length, 'a', 'agent ids', 'string');
  const times = batchColumn<number>(t, length, 't', 'timestamps', 'number');

  let bad: Set<number> | undefined;
  for (let i = 0; i < length; i += 1) {
    const id: unknown = s[i];
    const agent: unknown = agents === undefined ? a : agents[i];
    const time: unknown = times === undefined ? t : times[i];
    const value: unknown = v[i];
    let reason: string | undefined;
    if (typeof id !== 'string' || id === '') reason = `its series id is ${describeJson(id)}, not a non-empty string`;
    else if (typeof agent !== 'string') reason = `its agent id is ${describeJson(agent)}, not a string`;
    else if (typeof time !== 'number' || !Number.isFinite(time)) reason = `its timestamp is ${describeJson(time)}, not a finite number of Unix milliseconds`;
    else if (typeof value !== 'number' || !Number.isFinite(value)) reason = `its value is ${describeJson(value)}, not a finite number`;
    if (reason === undefined) continue;
    bad ??= new Set();
    bad.add(i);
    report({ index: i, reason, seriesId: typeof id === 'string' && id !== '' ? id : undefined });
  }
  // The common case: every sample is good and the parsed arrays are the columns.
  if (bad === undefined) {
    return {
      columns: {
        length,
        seriesIds: s as string[],
        agentIds: agents ?? new Array<string>(length).fill(a as string),
        timestampsMillis: times ?? new Array<number>(length).fill(t as number),
        values: v as number[],
        ...(kinds === undefined ? {} : { kinds }),
      },
    };
  }
  const keep = (_: unknown, i: number): boolean => !bad.has(i);
  const seriesIds = (s as string[]).filter(keep);
  const kept: number[] = [];
  for (let i = 0; i < length; i += 1) if (!bad.has(i)) kept.push(i);
  return {
    columns: {
      length: seriesIds.length,
      seriesIds,
      agentIds: agents === undefined ? new Array<string>(seriesIds.length).fill(a as string) : agents.filter(keep),
      timestampsMillis: times === undefined ? new Array<number>(seriesIds.length).fill(t as number) : times.filter(keep),
      values: (v as number[]).filter(keep),
      ...(kinds === undefined ? {} : { kinds: kinds.filter(keep) }),
    },
    kept,
  };
}

/** The values column: an array of numbers, or base64 of little-endian doubles. */
function batchValues(column: unknown): unknown[] {
  if (Array.isArray(column)) return column;
  if (typeof column !== 'string') throw new InputError(`samples-stream batch entry: "v" (values) must be base64 of little-endian doubles or an array of numbers, not ${describeJson(column)}`);
  const bytes = Buffer.from(column, 'base64');
  if (bytes.length % 8 !== 0 || bytes.length !== base64Length(column)) {
    throw new InputError(`samples-stream batch entry: "v" (values) is not base64 of 8-byte doubles (${column.length} characters decode to ${bytes.length} bytes); it starts ${JSON.stringify(column.slice(0, 40))}`);
  }
  const values = new Array<number>(bytes.length / 8);
  for (let i = 0; i < values.length; i += 1) values[i] = bytes.readDoubleLE(8 * i);
  return values;
}

/** The bytes strict base64 of this many characters decodes to (Node skips characters that are not base64). */
function base64Length(text: string): number {
  const padding = text.endsWith('==') ? 2 : text.endsWith('=') ? 1 : 0;
  return /^[A-Za-z0-9+/]*={0,2}$/.test(text) && text.length % 4 === 0 ? (text.length / 4) * 3 - padding : -1;
}

/** A column that may be one shared value: the array, or undefined when it is a single `kind` value. */
function batchColumn<T>(column: unknown, length: number, key: string, what: string, kind: 'string' | 'number'): T[] | undefined {
  if (Array.isArray(column)) {
    if (column.length !== length) throw new InputError(`samples-stream batch entry: "s" has ${length} series ids but "${key}" has ${column.length} ${what}`);
    return column as T[];
  }
  if (typeof column !== kind) throw new InputError(`samples-stream batch entry: "${key}" (${what}) must be an array or one ${kind} shared by every sample, not ${describeJson(column)}`);
  return undefined;
}

function describeJson(value: unknown): string {
  if (value === undefined) return 'missing';
  if (typeof value === 'number' && !Number.isFinite(value)) return String(value);
  const text = JSON.stringify(value);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}
