import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { formatHealthReport, readHealthReport } from '../../src/index.js';
import type { HealthReport } from '../../src/health/health-monitor.js';

// Regression tests for the security review: `sloth agent checks` prints what check targets said
// (command output, server text) and must not let it drive the terminal; a damaged checks.json is named, not a stack trace.

function report(message: string, name = 'web'): HealthReport {
  return {
    agentId: 'a1',
    updatedAt: new Date(0).toISOString(),
    overall: 'unhealthy',
    checks: [
      {
        name,
        type: 'command',
        target: '["check"]',
        state: 'unhealthy',
        consecutiveSuccesses: 0,
        consecutiveFailures: 1,
        lastTransitionAt: undefined,
        history: [{ at: new Date(0).toISOString(), ok: false, message, durationMillis: 3 }],
      },
    ],
  };
}

describe('sloth agent checks output', () => {
  it('control characters in check messages and names are shown escaped, not sent to the terminal', () => {
    const text = formatHealthReport(report('x\u001b]0;owned\u0007\r\n\u009b2J', 'we\u001b[8mb'), 0);
    expect([...text].filter((c) => /\p{Cc}/u.test(c) && c !== '\n')).toEqual([]);
    expect(text).toContain('x\\x1b]0;owned\\x07\\x0d\\x0a\\x9b2J');
    expect(text).toContain('we\\x1b[8mb');
    // One line per check: a newline in a message does not start a fake row.
    expect(text.split('\n')).toHaveLength(3);
  });
});

describe('reading checks.json', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sloth-health-report-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('a missing file is no report', async () => {
    expect(await readHealthReport(join(dir, 'checks.json'))).toBeUndefined();
  });

  it('a report the agent wrote reads back', async () => {
    const path = join(dir, 'checks.json');
    await writeFile(path, JSON.stringify(report('exit 1')));
    expect(await readHealthReport(path)).toEqual(JSON.parse(JSON.stringify(report('exit 1'))));
  });

  it.each([
    ['an empty object', '{}', /overall/],
    ['truncated JSON', '{"agentId": "a1", "upd', /not valid JSON/],
    ['an array', '[]', /expected object/],
    ['a check without history', JSON.stringify({ ...report('x'), checks: [{ name: 'web', type: 'http', state: 'healthy', target: 'http://x' }] }), /checks\.0\.history/],
    ['an unknown state', JSON.stringify({ ...report('x'), overall: 'great' }), /overall/],
  ])('%s is a clear error naming the file, not a crash', async (_what, content, detail) => {
    const path = join(dir, 'checks.json');
    await writeFile(path, content);
    const error = await readHealthReport(path).then(
      () => undefined,
      (e: unknown) => e as Error & { code?: string },
    );
    expect(error?.code).toBe('SLOTH_ERR_STORAGE');
    expect(error?.message).toContain(`agent state file ${path} is damaged`);
    expect(error?.message).toMatch(detail);
    expect(error?.message).toMatch(/the agent rewrites it after its next check; delete it to start afresh/);
  });
});
