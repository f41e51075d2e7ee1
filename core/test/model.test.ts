import { describe, expect, it } from 'vitest';
import { decodeSampleColumns, decodeSampleEntry, encodeSampleBatch, encodeSampleBatchBytes, encodeSampleMessage, InputError, parseSeriesId, redisKeys, seriesId, type BadSample } from '../src/index.js';

describe('series ids', () => {
  it('are canonical regardless of label order and round-trip through parse', () => {
    const a = seriesId('system.cpu.utilization', { host: 'h1', cpu: '0' });
    const b = seriesId('system.cpu.utilization', { cpu: '0', host: 'h1' });
    expect(a).toBe(b);
    expect(a).toBe('system.cpu.utilization{cpu="0",host="h1"}');
    const tricky = { path: 'C:\\dir "quoted"\nnext', empty: '' };
    expect(parseSeriesId(seriesId('m', tricky))).toEqual({ name: 'm', labels: tricky });
    expect(parseSeriesId('plain')).toEqual({ name: 'plain', labels: {} });
  });

  it('rejects malformed ids', () => {
    expect(() => parseSeriesId('m{a="1"')).toThrow(/closing brace/);
    expect(() => parseSeriesId('m{a=1}')).toThrow(/malformed/);
  });
});

describe('sample stream messages', () => {
  const id = seriesId('m', { a: '1' });
  const other = seriesId('disk.io', { device: 'sda', host: 'h "2"' });

  it('round-trip a single-sample entry', () => {
    const fields = encodeSampleMessage({ seriesId: id, agentId: 'agent-1', timestampMillis: 1700000000123, value: 0.25 });
    expect(decodeSampleEntry(fields)).toEqual([{ seriesId: id, name: 'm', labels: { a: '1' }, agentId: 'agent-1', timestampMillis: 1700000000123, value: 0.25 }]);
  });

  it('round-trip a batch entry, sharing the agent and timestamp when every sample has the same', () => {
    const samples = [
      { seriesId: id, agentId: 'agent-1', timestampMillis: 1_000, value: 0.25 },
      { seriesId: other, agentId: 'agent-1', timestampMillis: 1_000, value: -3e-9 },
      { seriesId: id, agentId: 'agent-1', timestampMillis: 1_000, value: 1e300 },
    ];
    const fields = encodeSampleBatch(samples);
    expect(fields).toHaveLength(2);
    expect(fields[0]).toBe('b');
    const payload = JSON.parse(fields[1]!) as { v: string };
    expect(payload).toEqual({ s: [id, other, id], a: 'agent-1', t: 1_000, v: expect.any(String) });
    const values = Buffer.from(payload.v, 'base64');
    expect([0, 8, 16].map((offset) => values.readDoubleLE(offset))).toEqual([0.25, -3e-9, 1e300]);
    expect(decodeSampleEntry(fields)).toEqual([
      { seriesId: id, name: 'm', labels: { a: '1' }, agentId: 'agent-1', timestampMillis: 1_000, value: 0.25 },
      { seriesId: other, name: 'disk.io', labels: { device: 'sda', host: 'h "2"' }, agentId: 'agent-1', timestampMillis: 1_000, value: -3e-9 },
      { seriesId: id, name: 'm', labels: { a: '1' }, agentId: 'agent-1', timestampMillis: 1_000, value: 1e300 },
    ]);
  });

  it('keep per-sample agents and timestamps when they differ, and accept columns as input', () => {
    const fields = encodeSampleBatch({ length: 2, seriesIds: [id, other], agentIds: ['x', 'y'], timestampsMillis: [5, 6], values: [1, 2] });
    expect(JSON.parse(fields[1]!)).toMatchObject({ s: [id, other], a: ['x', 'y'], t: [5, 6] });
    expect(decodeSampleColumns(fields)).toEqual({ length: 2, seriesIds: [id, other], agentIds: ['x', 'y'], timestampsMillis: [5, 6], values: [1, 2] });
  });

  it('encode a batch as bytes identical to the field value', () => {
    const samples = [
      { seriesId: seriesId('größe', { ort: 'Zürich "Nord"' }), agentId: 'a-ü', timestampMillis: 1, value: 2.5 },
      { seriesId: id, agentId: 'b', timestampMillis: 2, value: -1 },
    ];
    const bytes = encodeSampleBatchBytes(samples);
    expect(bytes.toString('utf8')).toBe(encodeSampleBatch(samples)[1]);
    expect(decodeSampleEntry(['b', bytes.toString('utf8')]).map((s) => [s.labels, s.agentId, s.value])).toEqual([[{ ort: 'Zürich "Nord"' }, 'a-ü', 2.5], [{ a: '1' }, 'b', -1]]);
  });

  it('encode an empty batch that decodes to no samples', () => {
    expect(decodeSampleEntry(encodeSampleBatch([]))).toEqual([]);
  });

  it('refuse to encode what JSON cannot carry or columns of different lengths', () => {
    expect(() => encodeSampleBatch([{ seriesId: id, agentId: 'x', timestampMillis: 1, value: Number.NaN }])).toThrow('cannot encode sample 0 of a samples batch: its value NaN is not a finite number');
    expect(() => encodeSampleBatch([{ seriesId: id, agentId: 'x', timestampMillis: 1, value: 1 }, { seriesId: id, agentId: 'x', timestampMillis: Infinity, value: 1 }])).toThrow(/sample 1 of a samples batch: its timestamp Infinity/);
    expect(() => encodeSampleBatch({ length: 2, seriesIds: [id, id], agentIds: ['x'], timestampsMillis: [1, 2], values: [1, 2] })).toThrow('it has length 2 but 1 agentIds');
  });

  it('hand each bad sample of a batch to the callback and keep the good ones', () => {
    const payload = JSON.stringify({ s: [id, '', other, id, other, 'cpu{host="x'], a: 'ag', t: [1, 2, 3, null, 5, 6], v: [1, 2, 'NaN', 4, 5, 6] });
    const bad: BadSample[] = [];
    const samples = decodeSampleEntry(['b', payload], (problem) => bad.push(problem));
    expect(samples.map((s) => [s.seriesId, s.timestampMillis, s.value])).toEqual([[id, 1, 1], [other, 5, 5]]);
    expect(bad.map((b) => [b.index, b.seriesId])).toEqual([[1, undefined], [2, other], [3, id], [5, 'cpu{host="x']]);
    expect(bad[0]!.reason).toMatch(/series id is "", not a non-empty string/);
    expect(bad[1]!.reason).toMatch(/value is "NaN", not a finite number/);
    // Values may also come as base64 doubles, where NaN can hide.
    const nan = Buffer.alloc(16);
    nan.writeDoubleLE(1.5, 0);
    nan.writeDoubleLE(Number.NaN, 8);
    const problems: BadSample[] = [];
    expect(decodeSampleEntry(['b', JSON.stringify({ s: [id, other], a: 'ag', t: 1, v: nan.toString('base64') })], (p) => problems.push(p)).map((s) => s.value)).toEqual([1.5]);
    expect(problems).toEqual([{ index: 1, reason: 'its value is NaN, not a finite number', seriesId: other }]);
    expect(bad[2]!.reason).toMatch(/timestamp is null/);
    expect(bad[3]!.reason).toMatch(/closing brace/);
    // Columns (no series-id parsing) leave the malformed series id to the caller.
    expect(decodeSampleColumns(['b', payload], () => undefined).seriesIds).toEqual([id, other, 'cpu{host="x']);
  });

  it('throw for a bad sample when no callback is given, naming the sample and the problem', () => {
    const fields = ['b', JSON.stringify({ s: [id, id], a: 'ag', t: 1, v: [1, null] })];
    expect(() => decodeSampleEntry(fields)).toThrow(InputError);
    expect(() => decodeSampleEntry(fields)).toThrow('samples-stream entry: sample 1 is not valid: its value is null, not a finite number');
    expect(() => decodeSampleEntry(['s', id, 'a', 'x', 't', 'yesterday', 'v', '1'])).toThrow(/sample 0 is not valid: the timestamp "t" is "yesterday"/);
    expect(() => decodeSampleEntry(['s', id, 'a', 'x', 't', '1'])).toThrow(/there is no value "v"/);
    expect(() => decodeSampleEntry(['s', id, 't', '1', 'v', '1'])).toThrow(/there is no agent id "a"/);
    expect(() => decodeSampleEntry(['s', id, 'a', 'x', 't', '1', 'v', 'Infinity'])).toThrow(/the value "v" is "Infinity"/);
  });

  it('report a bad single-sample entry as its one bad sample', () => {
    const bad: BadSample[] = [];
    expect(decodeSampleEntry(['s', id, 'a', 'x', 't', '1', 'v', ''], (problem) => bad.push(problem))).toEqual([]);
    expect(bad).toEqual([{ index: 0, reason: 'the value "v" is "", not a finite number', seriesId: id }]);
  });

  it('throw for entries that cannot be read at all, saying what is wrong', () => {
    const cases: Array<[string[], RegExp]> = [
      [['garbage', 'x'], /neither a "b" \(batch\) nor an "s" \(series id\) field; its field names are "garbage"/],
      [[], /field names are none/],
      [['b', '{"s":['], /field "b" is not JSON/],
      [['b', '[1,2]'], /must be a JSON object/],
      [['b', '{"a":"x","t":1,"v":[]}'], /"s" \(series ids\) must be an array, not missing/],
      [['b', '{"s":[],"a":"x","t":1,"v":{}}'], /"v" \(values\) must be base64 of little-endian doubles or an array of numbers, not \{\}/],
      [['b', '{"s":["m"],"a":"x","t":1,"v":"AAAA"}'], /"v" \(values\) is not base64 of 8-byte doubles \(4 characters decode to 3 bytes\)/],
      [['b', '{"s":["m"],"a":"x","t":1,"v":"AAAAAAAA!AA="}'], /"v" \(values\) is not base64 of 8-byte doubles/],
      [['b', '{"s":["m"],"a":"x","t":1,"v":[1,2]}'], /"s" has 1 series ids but "v" has 2 values/],
      [['b', '{"s":["m"],"a":["x","y"],"t":1,"v":[1]}'], /"s" has 1 series ids but "a" has 2 agent ids/],
      [['b', '{"s":["m"],"a":"x","t":"1","v":[1]}'], /"t" \(timestamps\) must be an array or one number shared by every sample, not "1"/],
      [['b', '{"s":["m"],"t":1,"v":[1]}'], /"a" \(agent ids\) must be an array or one string/],
    ];
    for (const [fields, message] of cases) {
      expect(() => decodeSampleEntry(fields, () => undefined)).toThrow(message);
      expect(() => decodeSampleEntry(fields, () => undefined)).toThrow(InputError);
    }
  });
});

describe('redis keys', () => {
  it('put everything under the prefix', () => {
    const keys = redisKeys('t1');
    expect(keys.samples).toBe('t1:samples');
    expect(keys.key('agents', 'x')).toBe('t1:agents:x');
    expect(redisKeys().samples).toBe('sloth:samples');
    expect(() => redisKeys('bad prefix')).toThrow(/invalid Redis key prefix/);
  });
});
