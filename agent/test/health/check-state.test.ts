import { describe, expect, it } from 'vitest';
import { CheckState, worstState, type CheckResult } from '../../src/health/check-state.js';

const run = (ok: boolean, at = 0): CheckResult => ({ ok, message: ok ? 'fine' : 'bad', atMillis: at, durationMillis: 1 });

describe('CheckState', () => {
  it('starts unknown and needs successThreshold passes to become healthy', () => {
    const s = new CheckState('c', 2, 3);
    expect(s.state).toBe('unknown');
    expect(s.record(run(true))).toBeUndefined();
    expect(s.state).toBe('unknown');
    expect(s.record(run(true, 5))).toEqual({ check: 'c', from: 'unknown', to: 'healthy', result: run(true, 5) });
    expect(s.lastTransitionMillis).toBe(5);
  });

  it('needs failureThreshold consecutive failures to become unhealthy; a pass resets the count', () => {
    const s = new CheckState('c', 1, 3);
    s.record(run(true));
    expect(s.state).toBe('healthy');
    s.record(run(false));
    s.record(run(false));
    s.record(run(true));
    s.record(run(false));
    s.record(run(false));
    expect(s.state).toBe('healthy');
    const t = s.record(run(false));
    expect(t?.from).toBe('healthy');
    expect(t?.to).toBe('unhealthy');
    expect(s.consecutiveFailures).toBe(3);
  });

  it('goes unknown → unhealthy directly and back to healthy after enough passes', () => {
    const s = new CheckState('c', 2, 1);
    expect(s.record(run(false))?.to).toBe('unhealthy');
    expect(s.record(run(true))).toBeUndefined();
    expect(s.record(run(true))?.to).toBe('healthy');
  });

  it('keeps a bounded recent history', () => {
    const s = new CheckState('c', 1, 1);
    for (let i = 0; i < 50; i++) s.record(run(i % 2 === 0, i));
    expect(s.history).toHaveLength(20);
    expect(s.history[0]!.atMillis).toBe(30);
    expect(s.history.at(-1)!.atMillis).toBe(49);
  });

  it('overall health is the worst state', () => {
    expect(worstState([])).toBe('healthy');
    expect(worstState(['healthy', 'unknown'])).toBe('unknown');
    expect(worstState(['unknown', 'unhealthy', 'healthy'])).toBe('unhealthy');
  });
});
