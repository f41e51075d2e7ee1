import type Database from 'better-sqlite3';
import type { SpanRecord } from '../records.js';
import type { SpanQuery } from './store-types.js';
import { whereDefined } from './sql-filter.js';

/** The `spans` table: written in the store's write transaction, read newest first. */
export class SpanTable {
  private readonly insert: Database.Statement | undefined;

  constructor(
    private readonly db: Database.Database,
    writable: boolean,
  ) {
    this.insert = writable
      ? db.prepare(
          `INSERT INTO spans (trace_id, span_id, parent_span_id, name, kind, agent_id, service_name, start_ms, end_ms, status_code, status_message, attributes)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        )
      : undefined;
  }

  write(spans: readonly SpanRecord[]): void {
    const insert = this.insert;
    if (insert === undefined) throw new Error('the span table is open read-only');
    for (const s of spans) {
      insert.run(
        s.traceId,
        s.spanId,
        s.parentSpanId,
        s.name,
        s.kind,
        s.agentId,
        s.serviceName,
        Math.floor(s.startMillis),
        Math.floor(s.endMillis),
        s.statusCode,
        s.statusMessage,
        JSON.stringify(s.attributes),
      );
    }
  }

  /** Newest spans first. */
  query(query: SpanQuery = {}): SpanRecord[] {
    const { where, params } = whereDefined([
      ['agent_id = ?', query.agentId],
      ['name = ?', query.name],
      ['trace_id = ?', query.traceId?.toLowerCase()],
      ['start_ms >= ?', query.sinceMillis === undefined ? undefined : Math.floor(query.sinceMillis)],
    ]);
    const sql = `SELECT * FROM spans ${where} ORDER BY start_ms DESC, id DESC LIMIT ?`;
    const rows = this.db.prepare(sql).all(...params, query.limit ?? 100) as Array<Record<string, unknown>>;
    return rows.map((r) => ({
      traceId: r.trace_id as string,
      spanId: r.span_id as string,
      parentSpanId: r.parent_span_id as string,
      name: r.name as string,
      kind: r.kind as number,
      agentId: r.agent_id as string,
      serviceName: r.service_name as string,
      startMillis: r.start_ms as number,
      endMillis: r.end_ms as number,
      statusCode: r.status_code as number,
      statusMessage: r.status_message as string,
      attributes: JSON.parse(r.attributes as string) as Record<string, unknown>,
    }));
  }
}
