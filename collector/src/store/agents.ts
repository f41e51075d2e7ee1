import type Database from 'better-sqlite3';
import type { Labels } from '@sloth/core';
import type { ResourceInfo } from '../records.js';
import type { AgentRecord, AgentState } from './store-types.js';

interface AgentRow {
  id: string;
  principal: string;
  state: string;
  first_seen_ms: number;
  last_seen_ms: number;
  attributes: string;
}

/** The `agents` table. The agent registry owns their state; the write transaction records first/last seen. */
export class AgentTable {
  private readonly list: Database.Statement;
  private readonly seen: Database.Statement | undefined;
  private readonly put: Database.Statement | undefined;
  private readonly setState: Database.Statement | undefined;

  constructor(
    private readonly db: Database.Database,
    writable: boolean,
  ) {
    this.list = db.prepare('SELECT * FROM agents ORDER BY id');
    if (!writable) return;
    this.seen = db.prepare(
      `INSERT INTO agents (id, principal, state, first_seen_ms, last_seen_ms, attributes) VALUES (?, ?, 'up', ?, ?, ?)
       ON CONFLICT (id) DO UPDATE SET principal = excluded.principal, attributes = excluded.attributes,
         last_seen_ms = max(last_seen_ms, excluded.last_seen_ms)`,
    );
    this.put = db.prepare(
      `INSERT INTO agents (id, principal, state, first_seen_ms, last_seen_ms, attributes) VALUES (?, ?, ?, ?, ?, ?)
       ON CONFLICT (id) DO UPDATE SET principal = excluded.principal, state = excluded.state,
         first_seen_ms = min(first_seen_ms, excluded.first_seen_ms), last_seen_ms = max(last_seen_ms, excluded.last_seen_ms),
         attributes = excluded.attributes`,
    );
    this.setState = db.prepare('UPDATE agents SET state = ? WHERE id = ?');
  }

  /** Inside the write transaction: every resource of a batch marks its agent seen now. */
  recordSeen(resources: readonly ResourceInfo[], nowMillis: number): void {
    const seen = this.writable(this.seen);
    for (const resource of resources) seen.run(resource.agentId, resource.principal, nowMillis, nowMillis, JSON.stringify(resource.attributes));
  }

  all(): AgentRecord[] {
    return (this.list.all() as AgentRow[]).map((row) => ({
      id: row.id,
      principal: row.principal,
      state: row.state === 'down' ? 'down' : 'up',
      firstSeenMillis: row.first_seen_ms,
      lastSeenMillis: row.last_seen_ms,
      attributes: JSON.parse(row.attributes) as Labels,
    }));
  }

  /** Inserts or updates agents (first seen keeps the earliest, last seen the latest), in one transaction. */
  putAll(agents: readonly AgentRecord[]): void {
    const put = this.writable(this.put);
    this.db.transaction((rows: readonly AgentRecord[]) => {
      for (const a of rows) put.run(a.id, a.principal, a.state, a.firstSeenMillis, a.lastSeenMillis, JSON.stringify(a.attributes));
    })(agents);
  }

  setAgentState(agentId: string, state: AgentState): void {
    this.writable(this.setState).run(state, agentId);
  }

  private writable(statement: Database.Statement | undefined): Database.Statement {
    if (statement === undefined) throw new Error('the agent table is open read-only');
    return statement;
  }
}
