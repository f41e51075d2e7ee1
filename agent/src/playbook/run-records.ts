import { boundAttributes } from './attribute-limits.js';
import { maxLogMessageChars } from './sandbox-job.js';
import type { PlaybookAction, PlaybookLogRecord } from './types.js';

/** Bytes of log and action records one run keeps (they go into its result and its report on Redis). */
export const maxRecordBytesPerRun = 1024 * 1024;
/** Action records one run keeps. */
export const maxActionsPerRun = 1000;

/** Cost of a record beyond its attributes (level, kind, timestamp, JSON punctuation). */
const recordOverheadBytes = 64;

/**
 * The log and action records of one run, bounded: each record's attributes are cut to
 * the limits of attribute-limits.ts, and records past {@link maxRecordBytesPerRun} in all
 * (or past {@link maxActionsPerRun} actions) are counted and dropped, never kept.
 */
export class RunRecords {
  readonly logs: PlaybookLogRecord[] = [];
  readonly actions: PlaybookAction[] = [];
  private bytes = 0;
  private droppedLogCount = 0;
  private droppedActionCount = 0;

  /** Bounds and keeps a log record; returns it, or undefined when the run's budget is spent (the record is dropped). */
  addLog(level: PlaybookLogRecord['level'], text: string, attrs: unknown, timestampMillis: number): PlaybookLogRecord | undefined {
    // The sandbox cut it already (with its marker); this only guards against another sender.
    const message = text.length > maxLogMessageChars + 16 ? `${text.slice(0, maxLogMessageChars)}… (truncated)` : text;
    const bounded = boundAttributes(attrs, () => '(function)');
    const size = recordOverheadBytes + Buffer.byteLength(message, 'utf8') + bounded.bytes;
    if (this.bytes + size > maxRecordBytesPerRun) {
      this.droppedLogCount += 1;
      return undefined;
    }
    this.bytes += size;
    const record: PlaybookLogRecord = { level, message, attrs: bounded.attrs, timestampMillis };
    this.logs.push(record);
    return record;
  }

  /** Bounds and keeps an action record, unless the run's budget is spent. */
  addAction(kind: PlaybookAction['kind'], dryRun: boolean, detail: Record<string, unknown>): void {
    if (this.actions.length >= maxActionsPerRun) {
      this.droppedActionCount += 1;
      return;
    }
    const bounded = boundAttributes(detail, () => '(function)');
    const size = recordOverheadBytes + bounded.bytes;
    if (this.bytes + size > maxRecordBytesPerRun) {
      this.droppedActionCount += 1;
      return;
    }
    this.bytes += size;
    this.actions.push({ kind, dryRun, detail: bounded.attrs });
  }

  get droppedActions(): number {
    return this.droppedActionCount;
  }

  get droppedLogs(): number {
    return this.droppedLogCount;
  }

  /**
   * Adds the one warning that says what was dropped (log records over the sandbox's count
   * limit included); it is kept whatever the budget. Returns it, or undefined if nothing was dropped.
   */
  addDropWarning(droppedBySandbox: number, maxLogRecords: number, timestampMillis: number): PlaybookLogRecord | undefined {
    const parts: string[] = [];
    if (droppedBySandbox > 0) parts.push(`${droppedBySandbox} log record(s) dropped: a run keeps at most ${maxLogRecords}`);
    if (this.droppedLogCount > 0 || this.droppedActionCount > 0) {
      parts.push(
        `${this.droppedLogCount} log record(s) and ${this.droppedActionCount} action record(s) dropped: a run keeps at most ${maxRecordBytesPerRun} bytes of log and action records and at most ${maxActionsPerRun} actions`,
      );
    }
    if (parts.length === 0) return undefined;
    const record: PlaybookLogRecord = {
      level: 'warn',
      message: parts.join('; '),
      attrs: { dropped_logs: droppedBySandbox + this.droppedLogCount, dropped_actions: this.droppedActionCount },
      timestampMillis,
    };
    this.logs.push(record);
    return record;
  }
}
