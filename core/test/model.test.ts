import { describe, expect, it } from 'vitest';
import { decodeSampleMessage, encodeSampleMessage, parseSeriesId, redisKeys, seriesId } from '../src/index.js';

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
  it('round-trip', () => {
    const id = seriesId('m', { a: '1' });
    const fields = encodeSampleMessage({ seriesId: id, agentId: 'agent-1', timestampMillis: 1700000000123, value: 0.25 });
    expect(decodeSampleMessage(fields)).toEqual({ seriesId: id, name: 'm', labels: { a: '1' }, agentId: 'agent-1', timestampMillis: 1700000000123, value: 0.25 });
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
