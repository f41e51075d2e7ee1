import { describe, expect, it } from 'vitest';
import { analyticsConfigShape } from '../../src/service/config.js';
import { matchesSeriesPattern, parseSeriesPattern } from '../../src/service/glob.js';
import { z } from 'zod';

describe('series patterns (excludeMetrics)', () => {
  it('matches a name glob alone, or a name glob with label value globs', () => {
    const loopback = parseSeriesPattern('system.network.*{device="lo"}');
    expect(matchesSeriesPattern(loopback, 'system.network.io', { device: 'lo', direction: 'receive' })).toBe(true);
    expect(matchesSeriesPattern(loopback, 'system.network.io', { device: 'eth0' })).toBe(false);
    expect(matchesSeriesPattern(loopback, 'system.network.io', {})).toBe(false);
    expect(matchesSeriesPattern(loopback, 'system.disk.io', { device: 'lo' })).toBe(false);
    const veth = parseSeriesPattern('system.network.*{device="veth*", direction="transmit"}');
    expect(matchesSeriesPattern(veth, 'system.network.packets', { device: 'veth12ab', direction: 'transmit' })).toBe(true);
    expect(matchesSeriesPattern(veth, 'system.network.packets', { device: 'veth12ab', direction: 'receive' })).toBe(false);
    const name = parseSeriesPattern('sloth.*');
    expect(name.labels).toEqual([]);
    expect(matchesSeriesPattern(name, 'sloth.agent.up', { agent: 'x' })).toBe(true);
    expect(matchesSeriesPattern(name, 'system.sloth', {})).toBe(false);
  });

  it.each([
    ['{device="lo"}', 'has no metric name before "{"'],
    ['system.network.*{device="lo"', 'must end with "}"'],
    ['system.network.*{device=lo}', '"device=lo" is not label="value"'],
    ['system.network.*{device="lo",}', '"" is not label="value"'],
  ])('refuses %s with a message saying what is wrong, also as configuration', (pattern, message) => {
    expect(() => parseSeriesPattern(pattern)).toThrow(message);
    const parsed = z.object(analyticsConfigShape).safeParse({ excludeMetrics: [pattern] });
    expect(parsed.success).toBe(false);
    expect(parsed.error?.issues[0]?.message).toContain(message);
  });
});
