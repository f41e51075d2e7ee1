import { describe, expect, it } from 'vitest';
import { buildReportModel, renderCsv, renderMarkdown, taskSection, type CollectedData, type TaskAttemptRecord, type TaskRecord } from '../src/index.js';
import { commandLine, oneLine } from '../src/task-history.js';

const second = 1_000;
const minute = 60 * second;
const hour = 60 * minute;
const day = 24 * hour;
const to = Date.UTC(2026, 0, 15);
const from = to - 7 * day;

function attempt(placedAtMillis: number, extra: Partial<TaskAttemptRecord> = {}): TaskAttemptRecord {
  return { attempt: 1, agentId: 'web-1', placedAtMillis, startedAtMillis: null, finishedAtMillis: null, outcome: null, message: '', redeliveries: 0, ...extra };
}

/** A task created at `createdAtMillis`, placed after `waitMillis` and run for `runMillis` when it ended. */
function task(id: string, state: string, createdAtMillis: number, extra: Partial<TaskRecord> = {}): TaskRecord {
  return { id, name: '', playbook: 'restart-nginx', command: [], state, createdAtMillis, updatedAtMillis: createdAtMillis + minute, reason: '', attempts: [], ...extra };
}

function ran(id: string, state: 'succeeded' | 'failed', createdAtMillis: number, waitMillis: number, runMillis: number, agentId = 'web-1', extra: Partial<TaskRecord> = {}): TaskRecord {
  const placed = createdAtMillis + waitMillis;
  return task(id, state, createdAtMillis, {
    updatedAtMillis: placed + second + runMillis,
    attempts: [attempt(placed, { agentId, startedAtMillis: placed + second, finishedAtMillis: placed + second + runMillis, outcome: state })],
    ...extra,
  });
}

function collected(overrides: Partial<CollectedData> = {}): CollectedData {
  return {
    collector: 'http://127.0.0.1:4318',
    fromMillis: from,
    toMillis: to,
    previousFromMillis: from - 7 * day,
    bucketMillis: hour,
    availabilityBucketMillis: minute,
    agents: [{ id: 'web-1', state: 'up', firstSeenMillis: 0, lastSeenMillis: to, presentBuckets: 10_080, presentBucketsPrevious: 10_080 }],
    series: [{ key: 'cpu{agent="web-1"}', agentId: 'web-1', metric: 'cpu', instance: '', current: [{ t: from, min: 0.1, max: 0.3, avg: 0.2 }], previous: [] }],
    incidents: { available: false, reason: 'no analytics incident source given (--redis-url)' },
    remediations: { available: false, reason: 'no scheduler API given (--scheduler URL)' },
    alerts: { available: false, reason: 'no alerts API given (--alerts-url URL)' },
    scaling: { available: false, reason: 'no scheduler API given (--scheduler URL)' },
    tasks: { available: false, reason: 'no scheduler API given (--scheduler URL)' },
    ...overrides,
  };
}

describe('tasks section', () => {
  it('counts the period\u2019s tasks by state, with success rate, retries, redeliveries and percentiles of wait and run', () => {
    const tasks: TaskRecord[] = [
      // Before the period and after it: not counted.
      ran('t-old', 'failed', from - hour, 1 * second, 10 * second),
      ran('t-late', 'failed', to + minute, 1 * second, 10 * second),
      // Waits 1..10 s, runs 10..100 s: median wait 5.5 s, p95 9.55 s, median run 55 s.
      ...Array.from({ length: 8 }, (_, i) => ran(`t-ok-${i}`, 'succeeded', from + i * hour, (i + 1) * second, (i + 1) * 10 * second, i % 2 === 0 ? 'web-1' : 'web-2')),
      ran('t-bad-1', 'failed', from + 9 * hour, 9 * second, 90 * second, 'db-1', { reason: 'attempt 1 on db-1 failed: exit 1' }),
      // Failed once, then succeeded elsewhere: one retry, both attempts' runs counted, and its run was redelivered once.
      task('t-retry', 'succeeded', from + 10 * hour, {
        attempts: [
          attempt(from + 10 * hour + 10 * second, { agentId: 'db-1', startedAtMillis: from + 10 * hour + 11 * second, finishedAtMillis: from + 10 * hour + 111 * second, outcome: 'failed', redeliveries: 2 }),
          attempt(from + 11 * hour, { attempt: 2, agentId: 'web-2', startedAtMillis: from + 11 * hour, finishedAtMillis: from + 11 * hour + 100 * second, outcome: 'succeeded' }),
        ],
      }),
      task('t-cancelled', 'cancelled', from + 12 * hour),
      task('t-waiting', 'waiting', from + 13 * hour, { reason: 'no agent has room: 3 exhausted (cpuCores)' }),
      task('t-running', 'running', from + 14 * hour, { attempts: [attempt(from + 14 * hour + 2 * second, { startedAtMillis: from + 14 * hour + 3 * second })] }),
    ];
    const section = taskSection({ tasks, truncated: false }, from, to);
    expect(section.tasks).toBe(13);
    expect(section.states).toEqual([
      { state: 'succeeded', tasks: 9 },
      { state: 'failed', tasks: 1 },
      { state: 'cancelled', tasks: 1 },
      { state: 'queued', tasks: 0 },
      { state: 'waiting', tasks: 1 },
      { state: 'placed', tasks: 0 },
      { state: 'running', tasks: 1 },
      { state: 'retrying', tasks: 0 },
    ]);
    // 9 of the 10 that ran to an end; the cancelled one is not counted.
    expect(section.successRatePercent).toBe(90);
    expect(section.retries).toBe(1);
    expect(section.redeliveredRuns).toBe(1);
    expect(section.redeliveries).toBe(2);
    // Waits 1..9 s, 10 s (t-retry) and 2 s (t-running): 11 tasks placed.
    expect(section.waitToPlaceMillis).toEqual({ median: 5_000, p95: 9_500, tasks: 11 });
    // Runs 10..90 s (9), 100 s and 100 s: 11 ended runs, median 60 s.
    expect(section.runMillis).toEqual({ median: 60_000, runs: 11 });
    expect(section.agents).toEqual([
      { agentId: 'web-1', placements: 5, succeeded: 4, failed: 0 },
      { agentId: 'web-2', placements: 5, succeeded: 5, failed: 0 },
      { agentId: 'db-1', placements: 2, succeeded: 0, failed: 2 },
    ]);
    expect(section.failed).toEqual([{ id: 't-bad-1', createdAtMillis: from + 9 * hour, task: 'playbook restart-nginx', agentId: 'db-1', reason: 'attempt 1 on db-1 failed: exit 1' }]);
    expect(section.waiting.map((w) => [w.id, w.state, w.reason])).toEqual([['t-waiting', 'waiting', 'no agent has room: 3 exhausted (cpuCores)']]);
    expect(section.historyFromMillis).toBeNull();

    const md = renderMarkdown(buildReportModel(collected({ tasks: { available: true, tasks, truncated: false } })));
    expect(md).toContain('## Tasks\n');
    expect(md).toContain('| Tasks created | 13 |');
    expect(md).toContain('| Success rate % (of succeeded and failed) | 90.0 |');
    expect(md).toContain('| Wait to first placement, p95 | 9.5 s |');
    expect(md).toContain('| Run time, median | 60.0 s |');
    expect(md).toContain('| db-1 | 2 | 0 | 2 |');
    expect(md).toContain('| 2026-01-08 09:00 | t-bad-1 | playbook restart-nginx | db-1 | attempt 1 on db-1 failed: exit 1 |');
    expect(md).toContain('| 2026-01-08 13:00 | t-waiting | playbook restart-nginx | waiting | no agent has room: 3 exhausted (cpuCores) |');
  });

  it('lists the newest 20 failed tasks, names them by name or what they run, and strips control characters from user text', () => {
    const failures = Array.from({ length: 25 }, (_, i) =>
      task(`f-${String(i).padStart(2, '0')}`, 'failed', from + i * hour, {
        playbook: '',
        command: ['echo', 'hello world', `--token=abc${i}`],
        reason: `exit 1\nsecond line ${i}`,
        attempts: [attempt(from + i * hour + second, { agentId: `agent-${i % 3}`, outcome: 'failed', message: 'not shown when the task has a reason' })],
      }),
    );
    failures.push(
      task('f-named', 'failed', from + 30 * hour, {
        name: 'nightly \u001b[31mbackup\u001b[0m\tjob\u202e',
        reason: '\u0007boom\u0000 at step 2\r\nTraceback ...',
        attempts: [attempt(from + 30 * hour, { agentId: 'db-1', outcome: 'timed-out', message: 'timed out' })],
      }),
      // Never placed, no reason of its own: no agent, the reason empty.
      task('f-unplaced', 'failed', from + 29 * hour, { playbook: 'clean\ntmp' }),
    );
    const section = taskSection({ tasks: failures, truncated: false }, from, to);
    expect(section.failedTotal).toBe(27);
    expect(section.failed).toHaveLength(20);
    expect(section.failed.map((f) => f.id).slice(0, 4)).toEqual(['f-named', 'f-unplaced', 'f-24', 'f-23']);
    expect(section.failed[19]?.id).toBe('f-07');
    expect(section.failed[0]).toMatchObject({ task: 'nightly [31mbackup[0m job', agentId: 'db-1', reason: 'boom at step 2' });
    expect(section.failed[1]).toMatchObject({ task: 'playbook clean', agentId: '', reason: '' });
    expect(section.failed[2]).toMatchObject({ task: 'echo "hello world" --token=***', agentId: 'agent-0', reason: 'exit 1' });
    for (const f of section.failed) for (const text of [f.id, f.task, f.agentId, f.reason]) expect(text).not.toMatch(/[\p{Cc}\u202e]/u);

    const model = buildReportModel(collected({ tasks: { available: true, tasks: failures, truncated: false } }));
    const md = renderMarkdown(model);
    expect(md).toContain('The newest 20 of 27 failed tasks.');
    expect(md).toContain('| 2026-01-09 06:00 | f-named | nightly [31mbackup[0m job | db-1 | boom at step 2 |');
    expect(md).not.toContain('abc2');
    expect(JSON.stringify(model)).not.toMatch(/abc\d|\\u001b|second line/);
  });

  it('masks secret-looking arguments and URL credentials in a command line', () => {
    expect(commandLine(['curl', '-H', 'Authorization: Bearer s3cr3t', '--password', 'hunter2', 'https://ops:pw@example.com/x?key=v', 'API_KEY=k1', 'plain'])).toBe(
      'curl -H Authorization:*** --password *** https://***:***@example.com/x?key=*** API_KEY=*** plain',
    );
    expect(oneLine(`${'x'.repeat(300)}`)).toHaveLength(200);
  });

  it('masks secrets in what tasks said (records stored before the scheduler masked them), before cutting to one line', () => {
    const slack = 'https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX';
    const tasks = [
      task('s-reason', 'failed', from + hour, { reason: `attempt 1 failed: posting to ${slack} with password=hunter2 refused` }),
      // No reason of its own: the last attempt's message, a command's output after its first line.
      task('s-message', 'failed', from + 2 * hour, { attempts: [attempt(from + 2 * hour, { outcome: 'failed', message: 'Authorization: Bearer live-8f14e45fceea\nstdout:\nok' })] }),
      // Cut at 200 characters first, the token would be too short to know: it is masked whole first.
      task('s-long', 'failed', from + 30 * minute, { reason: `${'step '.repeat(36)}cloned with ghp_abcdefghijklmnopqrstuvwxyz0123456789` }),
      task('s-waiting', 'retrying', from + 3 * hour, { reason: 'attempt 1 failed (redis://:r3dis-pw@cache:6379 refused); retry 1 of 2 in 5 s' }),
    ];
    const section = taskSection({ tasks, truncated: false }, from, to);
    expect(section.failed.map((f) => [f.id, f.reason])).toEqual([
      ['s-message', 'Authorization: Bearer ***'],
      ['s-reason', 'attempt 1 failed: posting to https://hooks.slack.com/\u2026 with password=*** refused'],
      ['s-long', `${'step '.repeat(36)}cloned with ***`],
    ]);
    expect(section.waiting.map((w) => [w.id, w.reason])).toEqual([['s-waiting', 'attempt 1 failed (redis://:***@cache:6379 refused); retry 1 of 2 in 5 s']]);
    const model = buildReportModel(collected({ tasks: { available: true, tasks, truncated: false } }));
    for (const text of [renderMarkdown(model), renderCsv(model), JSON.stringify(model)]) {
      for (const secret of ['T00000000', 'XXXXXXXX', 'hunter2', 'live-8f14e45fceea', 'r3dis-pw', 'ghp_']) expect(text).not.toContain(secret);
    }
  });

  it('lists the tasks that had no run on an agent at the period\u2019s end, oldest first, at most 10', () => {
    const waiting = Array.from({ length: 12 }, (_, i) => task(`w-${String(i).padStart(2, '0')}`, i % 2 === 0 ? 'queued' : 'retrying', to - (12 - i) * hour, { reason: `reason ${i}` }));
    const tasks = [
      ...waiting,
      // Placed after the period's end: it was waiting at the end.
      task('w-late', 'running', to - 30 * hour, { reason: 'running on web-1', attempts: [attempt(to + 5 * minute, { startedAtMillis: to + 6 * minute })] }),
      // Cancelled before the period's end, and cancelled after it while still waiting.
      task('c-early', 'cancelled', to - 40 * hour, { updatedAtMillis: to - 39 * hour, reason: 'cancelled by ops' }),
      task('c-late', 'cancelled', to - 40 * hour, { updatedAtMillis: to + hour, reason: 'cancelled by ops' }),
      // Running at the period's end.
      task('r-1', 'running', to - 2 * hour, { attempts: [attempt(to - 2 * hour, { startedAtMillis: to - 2 * hour })] }),
    ];
    const section = taskSection({ tasks, truncated: false }, from, to);
    expect(section.waitingTotal).toBe(14);
    expect(section.waiting).toHaveLength(10);
    expect(section.waiting.slice(0, 3).map((w) => [w.id, w.state, w.placedAfter])).toEqual([
      ['c-late', 'cancelled', null],
      ['w-late', 'running', { atMillis: to + 5 * minute, agentId: 'web-1' }],
      ['w-00', 'queued', null],
    ]);
    const md = renderMarkdown(buildReportModel(collected({ tasks: { available: true, tasks, truncated: false } })));
    expect(md).toContain('The oldest 10 of 14 waiting tasks.');
    expect(md).toContain('| w-late | playbook restart-nginx | running | placed on web-1 at 2026-01-15 00:05, after the period\u2019s end |');
  });

  it('says "not available" with the reason, "no tasks in this period" when there are none, and where a cut answer starts', () => {
    const missing = buildReportModel(collected());
    expect(missing.tasks).toEqual({ available: false, reason: 'no scheduler API given (--scheduler URL)' });
    expect(renderMarkdown(missing)).toContain('## Tasks\n\n_not available: no scheduler API given (--scheduler URL)_');
    expect(renderCsv(missing)).toContain('tasks,0,unavailable,not available: no scheduler API given (--scheduler URL)');

    const none = buildReportModel(collected({ tasks: { available: true, tasks: [ran('t-old', 'succeeded', from - day, second, second)], truncated: false } }));
    expect(none.tasks).toMatchObject({ available: true, tasks: 0, successRatePercent: null, waitToPlaceMillis: { median: null, p95: null, tasks: 0 } });
    const md = renderMarkdown(none);
    expect(md).toMatch(/## Tasks\n\n[^\n]+\n\n_no tasks in this period_/);
    expect(md).toContain('## Failed tasks\n\n_no tasks in this period_');
    expect(renderCsv(none)).toContain('tasks,0,empty,no tasks in this period');

    const cut = taskSection({ tasks: [ran('t-1', 'succeeded', from + day, second, second)], truncated: true }, from, to);
    expect(cut.historyFromMillis).toBe(from + day);
    expect(renderMarkdown(buildReportModel(collected({ tasks: { available: true, tasks: [ran('t-1', 'succeeded', from + day, second, second)], truncated: true } })))).toContain(
      'The scheduler answered with its newest 10,000 tasks: they start at 2026-01-09 00:00',
    );
  });
});
