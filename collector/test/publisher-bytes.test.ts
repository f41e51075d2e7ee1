import { describe, expect, it } from 'vitest';
import { decodeSampleColumns, encodeSampleBatchBytes, sampleBatchField } from '@sloth/core';

/** The publisher encodes stream entries from per-series JSON bytes: the entry must be the same bytes as from the ids. */
describe('samples stream entries from encoded series ids', () => {
  const seriesIds = ['cpu{agent="a",core="0"}', 'disk{agent="a",path="C:\\\\tmp"}', 'naïve{agent="ü",q="\\"x\\""}', 'x{agent="a"}'];
  const columns = {
    length: seriesIds.length,
    seriesIds,
    agentIds: ['a', 'a', 'ü', 'a'],
    timestampsMillis: [1_000, 1_000, 2_000, 3_000],
    values: [0.5, -1e300, 42, 5e-324],
    kinds: ['gauge', 'cumulative', 'gauge', 'delta'] as const,
  };

  it('writes the same bytes as escaping the ids, and decodes to the same samples', () => {
    const plain = encodeSampleBatchBytes(columns);
    const fromBytes = encodeSampleBatchBytes({ ...columns, seriesIdsJson: seriesIds.map((id) => Buffer.from(JSON.stringify(id))) });
    expect(fromBytes.equals(plain)).toBe(true);
    const decoded = decodeSampleColumns([sampleBatchField, fromBytes.toString('utf8')]);
    expect(decoded.seriesIds).toEqual(seriesIds);
    expect(decoded.values).toEqual(columns.values);
    expect(decoded.kinds).toEqual(columns.kinds);
    const empty = { length: 0, seriesIds: [], agentIds: [], timestampsMillis: [], values: [] };
    expect(encodeSampleBatchBytes({ ...empty, seriesIdsJson: [] }).equals(encodeSampleBatchBytes(empty))).toBe(true);
  });

  it('refuses encoded ids that do not match the batch', () => {
    expect(() => encodeSampleBatchBytes({ ...columns, seriesIdsJson: [Buffer.from('"x"')] })).toThrow(/length 4 but 1 encoded series ids/);
  });
});
