import type Database from 'better-sqlite3';
import type { LogRecordEntry } from '../records.js';
import type { LogQuery } from './store-types.js';
import { whereDefined } from './sql-filter.js';

/** The `logs` table: written in the store's write transaction, read newest first. */
export class LogTable {
  private readonly insert: Database.Statement | undefined;

  constructor(
    private readonly db: Database.Database,
    writable: boolean,
  ) {
    this.insert = writable
      ? db.prepare(
          `INSERT INTO logs (ts_ms, agent_id, service_name, severity_number, severity_text, body, trace_id, span_id, attributes)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        )
      : undefined;
  }

  write(logs: readonly LogRecordEntry[]): void {
    const insert = this.insert;
    if (insert === undefined) throw new Error('the log table is open read-only');
    for (const l of logs) {
      insert.run(Math.floor(l.timestampMillis), l.agentId, l.serviceName, l.severityNumber, l.severityText, l.body, l.traceId, l.spanId, JSON.stringify(l.attributes));
    }
  }

  /** Newest log records first. */
  query(query: LogQuery = {}): LogRecordEntry[] {
    const { where, params } = whereDefined([
      ['agent_id = ?', query.agentId],
      ['severity_number >= ?', query.severityMin],
      ['instr(body, ?) > 0', query.contains],
      ['ts_ms >= ?', query.sinceMillis === undefined ? undefined : Math.floor(query.sinceMillis)],
    ]);
    const sql = `SELECT * FROM logs ${where} ORDER BY ts_ms DESC, id DESC LIMIT ?`;
    const rows = this.db.prepare(sql).all(...params, query.limit ?? 100) as Array<Record<string, unknown>>;
    return rows.map((r) => ({
      timestampMillis: r.ts_ms as number,
      agentId: r.agent_id as string,
      serviceName: r.service_name as string,
      severityNumber: r.severity_number as number,
      severityText: r.severity_text as string,
      body: r.body as string,
      traceId: r.trace_id as string,
      spanId: r.span_id as string,
      attributes: JSON.parse(r.attributes as string) as Record<string, unknown>,
    }));
  }
}
