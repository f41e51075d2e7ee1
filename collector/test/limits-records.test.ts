import { describe, expect, it } from 'vitest';
import { utf8Prefix } from '@sloth/core/utf8';
import { withinRecordLimits, type RecordLimitSettings } from '../src/limits-records.js';
import { Rejections } from '../src/otlp-normalise.js';
import { emptyMetricColumns, type IngestBatch, type LogRecordEntry, type SpanRecord } from '../src/records.js';

const limits: RecordLimitSettings = { maxAttributesPerRecord: 4, maxAttributeValueBytes: 64, maxNameBytes: 32, maxLogBodyBytes: 128, maxFutureSkewMillis: 600_000 };
const now = Date.now();

function span(attributes: Record<string, unknown>, fields: Partial<SpanRecord> = {}): SpanRecord {
  return {
    traceId: '0123456789abcdef0123456789abcdef', spanId: '0123456789abcdef', parentSpanId: '', name: 'GET /', kind: 2, agentId: 'a1', serviceName: 'web',
    startMillis: now, endMillis: now + 1, statusCode: 0, statusMessage: '', attributes, ...fields,
  };
}

function log(fields: Partial<LogRecordEntry>): LogRecordEntry {
  return { timestampMillis: now, agentId: 'a1', serviceName: 'web', severityNumber: 9, severityText: 'INFO', body: '', traceId: '', spanId: '', attributes: {}, ...fields };
}

function limited(batch: Partial<IngestBatch>): { batch: IngestBatch; truncated: number; rejections: Rejections } {
  const rejections = new Rejections();
  const result = withinRecordLimits({ resources: [], metrics: emptyMetricColumns, spans: [], logs: [], ...batch }, now, limits, rejections);
  return { ...result, rejections };
}

/** A deterministic pseudo-random source (mulberry32), so a failure can be replayed. */
function random(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Characters of every UTF-8 length, the ones JSON escapes, and a lone surrogate. */
const alphabet = ['a', 'é', '€', '😀', '"', '\\', '\n', '\u0001', '\ud800', 'z'];

function text(next: () => number, maxChars: number): string {
  let out = '';
  const length = Math.floor(next() * maxChars);
  for (let i = 0; i < length; i++) out += alphabet[Math.floor(next() * alphabet.length)];
  return out;
}

function structure(next: () => number, depth: number): unknown {
  const roll = next();
  if (depth === 0 || roll < 0.4) return roll < 0.3 ? text(next, 120) : Math.floor(next() * 1000);
  const size = Math.floor(next() * 4);
  if (roll < 0.7) return Array.from({ length: size }, () => structure(next, depth - 1));
  return Object.fromEntries(Array.from({ length: size }, (_, i) => [`k${i}`, structure(next, depth - 1)]));
}

function strings(value: unknown): string[] {
  if (typeof value === 'string') return [value];
  if (Array.isArray(value)) return value.flatMap(strings);
  if (value !== null && typeof value === 'object') return Object.values(value).flatMap(strings);
  return [];
}

const bytes = (value: string): number => Buffer.byteLength(value, 'utf8');

describe('record limits: values cut, not records dropped', () => {
  it('cuts text at a UTF-8 character boundary: never a multi-byte character or a surrogate pair split, and nothing more cut than needed', () => {
    const sample = 'aé€😀b😀€éa'.repeat(3);
    for (let maxBytes = 0; maxBytes <= bytes(sample) + 1; maxBytes++) {
      const cut = utf8Prefix(sample, maxBytes);
      expect(sample.startsWith(cut)).toBe(true);
      expect(bytes(cut)).toBeLessThanOrEqual(maxBytes);
      // Whole characters only: decoding the bytes gives the text back, with no U+FFFD from a split character.
      expect(Buffer.from(cut, 'utf8').toString('utf8')).toBe(cut);
      expect(cut.at(-1)?.charCodeAt(0) ?? 0).not.toSatisfy((unit: number) => unit >= 0xd800 && unit <= 0xdbff);
      // The longest such start: one more character would be over.
      const rest = [...sample.slice(cut.length)];
      if (rest.length > 0) expect(bytes(cut + (rest[0] as string))).toBeGreaterThan(maxBytes);
    }
    expect(utf8Prefix('😀😀', 7)).toBe('😀');
    expect(utf8Prefix('a😀', 4)).toBe('a');
    expect(utf8Prefix('€€', 5)).toBe('€');
  });

  it('keeps a span whose attribute, name and status message are over the limit, each cut to it, and counts every cut value', () => {
    const stack = `Error: boom\n${'    at handler (/srv/app/handler.js:10:5)\n'.repeat(200)}`;
    const { batch, truncated, rejections } = limited({
      spans: [span({ 'exception.stacktrace': stack, 'http.route': '/users/:id', ok: true }, { name: 'é'.repeat(40), statusMessage: `a${'😀'.repeat(20)}` })],
    });
    expect(rejections.total).toBe(0);
    expect(truncated).toBe(3);
    const kept = batch.spans[0] as SpanRecord;
    expect(kept.attributes['exception.stacktrace']).toBe(stack.slice(0, 64));
    expect(kept.attributes['http.route']).toBe('/users/:id');
    expect(kept.attributes.ok).toBe(true);
    // é is two bytes: 32 of them fill 64; 😀 is four: 15 after the `a` fill 61 and a 16th would be 65.
    expect(kept.name).toBe('é'.repeat(32));
    expect(kept.statusMessage).toBe(`a${'😀'.repeat(15)}`);
    expect(Object.keys(kept.attributes)).toEqual(['exception.stacktrace', 'http.route', 'ok']);
  });

  it('cuts the strings inside an array or key/value list to one common length, so its JSON fits and short strings stay whole', () => {
    const { batch, truncated } = limited({ spans: [span({ error: { level: 'info', stack: 'x'.repeat(200) }, args: ['--port', '8080', 'y'.repeat(100)] })] });
    expect(truncated).toBe(2);
    const attributes = (batch.spans[0] as SpanRecord).attributes;
    // {"level":"info","stack":""} is 27 bytes: "info" is shorter than its share and stays whole, the stack gets the other 37.
    expect(attributes.error).toEqual({ level: 'info', stack: 'x'.repeat(37) });
    expect(JSON.stringify(attributes.error)).toHaveLength(64);
    expect(attributes.args).toEqual(['--port', '8080', 'y'.repeat(64 - JSON.stringify(['--port', '8080', '']).length)]);
  });

  it('fits any array or key/value list whose keys, numbers and nesting fit, with every string a start of what was sent', () => {
    const next = random(20_240_607);
    let cut = 0;
    for (let round = 0; round < 400; round++) {
      const value = structure(next, 3);
      if (value === null || typeof value !== 'object') continue;
      const { batch, truncated, rejections } = limited({ spans: [span({ v: value })] });
      const sentBytes = bytes(JSON.stringify(value));
      if (rejections.total > 0) {
        // Refused only when even empty strings do not fit.
        expect(bytes(JSON.stringify(JSON.parse(JSON.stringify(value), (_key, v: unknown) => (typeof v === 'string' ? '' : v))))).toBeGreaterThan(64);
        continue;
      }
      const kept = (batch.spans[0] as SpanRecord).attributes.v;
      expect(truncated).toBe(sentBytes > 64 ? 1 : 0);
      if (sentBytes <= 64) {
        expect(kept).toBe(value);
        continue;
      }
      cut += 1;
      const keptJson = JSON.stringify(kept);
      expect(bytes(keptJson), keptJson).toBeLessThanOrEqual(64);
      const before = strings(value);
      const after = strings(kept);
      expect(after).toHaveLength(before.length);
      after.forEach((s, i) => {
        const original = before[i] as string;
        expect(original.startsWith(s)).toBe(true);
        // A pair is never split into a lone half.
        if (s.length < original.length && s.length > 0) expect(s.charCodeAt(s.length - 1) >= 0xd800 && s.charCodeAt(s.length - 1) <= 0xdbff && original.charCodeAt(s.length) >= 0xdc00).toBe(false);
      });
    }
    expect(cut).toBeGreaterThan(50);
  });

  it('still refuses a span whose attribute count, key or bare structure is over the limits, naming why', () => {
    const { batch, truncated, rejections } = limited({
      spans: [
        span({ a: '1', b: '2', c: '3', d: '4', e: 'x'.repeat(100) }, { name: 'many' }),
        span({ ['k'.repeat(33)]: 'v' }, { name: 'long key' }),
        span({ list: Array.from({ length: 40 }, (_, i) => i) }, { name: 'numbers' }),
        span({ fine: 'x'.repeat(100) }, { name: 'kept' }),
      ],
    });
    expect(batch.spans.map((s) => s.name)).toEqual(['kept']);
    // Only the kept span's value counts as cut.
    expect(truncated).toBe(1);
    expect(rejections.byReason).toEqual({ attribute_limit: 3 });
    expect(rejections.examples).toEqual(['attribute_limit: span many has more than 4 attributes']);
    const alone = limited({ spans: [span({ list: Array.from({ length: 40 }, (_, i) => i) }, { name: 'numbers' })] }).rejections;
    expect(alone.examples).toEqual(['attribute_limit: span numbers has an attribute list of 111 bytes; at most 64 are allowed, and its keys, numbers and nesting alone take 111']);
  });

  it('cuts a log body, its severity text and attributes; a structured body stays JSON, with its strings cut', () => {
    const structured = JSON.stringify({ msg: 'payment failed', stack: 's'.repeat(300), code: 502 });
    const { batch, truncated, rejections } = limited({
      logs: [
        log({ body: 'z'.repeat(129), severityText: 'S'.repeat(65), attributes: { 'exception.message': 'm'.repeat(65) } }),
        log({ body: structured, structuredBody: true }),
        log({ body: JSON.stringify({ many: Array.from({ length: 60 }, (_, i) => i) }), structuredBody: true }),
        log({ body: 'ok' }),
      ],
    });
    expect(truncated).toBe(4);
    expect(rejections.byReason).toEqual({ body_limit: 1 });
    expect(rejections.examples).toEqual(['body_limit: a log record body is 180 bytes; at most 128 are allowed, and its keys, numbers and nesting alone take 180']);
    const [plain, json, ok] = batch.logs as [LogRecordEntry, LogRecordEntry, LogRecordEntry];
    expect(plain.body).toBe('z'.repeat(128));
    expect(plain.severityText).toBe('S'.repeat(64));
    expect(plain.attributes['exception.message']).toBe('m'.repeat(64));
    const body = JSON.parse(json.body) as { msg: string; stack: string; code: number };
    expect(body.msg).toBe('payment failed');
    expect(body.code).toBe(502);
    expect(body.stack).toMatch(/^s+$/);
    expect(bytes(json.body)).toBe(128);
    expect(ok.body).toBe('ok');
  });

  it('leaves a batch within the limits as it is, the same objects', () => {
    const spans = [span({ a: 'short' })];
    const logs = [log({ body: 'fine' })];
    const { batch, truncated } = limited({ spans, logs });
    expect(batch.spans).toBe(spans);
    expect(batch.logs).toBe(logs);
    expect(truncated).toBe(0);
  });
});
