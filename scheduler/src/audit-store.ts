import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { redactJson, redactText, SlothError, type remediationStates } from '@sloth/core';

export type RemediationState = (typeof remediationStates)[number];

export const finalStates: readonly RemediationState[] = ['succeeded', 'failed', 'rejected', 'expired', 'skipped_cooldown'];

/** One audit record. */
export interface RemediationRecord {
  id: string;
  triggerId: string;
  triggerKind: 'anomaly' | 'event';
  trigger: unknown;
  triggeredAtMillis: number;
  agentId: string;
  playbook: string;
  playbookVersion: string;
  params: Record<string, unknown>;
  dryRun: boolean;
  state: RemediationState;
  jobId: string | null;
  approvedBy: string | null;
  approvedAtMillis: number | null;
  rejectedBy: string | null;
  reason: string | null;
  createdAtMillis: number;
  expiresAtMillis: number | null;
  queuedAtMillis: number | null;
  startedAtMillis: number | null;
  finishedAtMillis: number | null;
  durationMillis: number | null;
  ok: boolean | null;
  message: string | null;
  error: string | null;
  output: unknown;
  attempts: number;
  updatedAtMillis: number;
}

/** What a new audit record is created from; the rest of {@link RemediationRecord} starts empty. */
export type NewRemediation = Pick<
  RemediationRecord,
  | 'id'
  | 'triggerId'
  | 'triggerKind'
  | 'trigger'
  | 'triggeredAtMillis'
  | 'agentId'
  | 'playbook'
  | 'playbookVersion'
  | 'params'
  | 'dryRun'
  | 'state'
  | 'createdAtMillis'
  | 'expiresAtMillis'
> & {
  reason?: string;
  /** Serialized job payload kept until the job is enqueued. */
  jobPayload: string | null;
};

export interface ListFilter {
  state?: RemediationState | undefined;
  agentId?: string | undefined;
  playbook?: string | undefined;
  /** @defaultValue 100 */
  limit?: number | undefined;
}

interface Row {
  id: string;
  trigger_id: string;
  trigger_kind: string;
  trigger_json: string;
  triggered_at: number;
  agent_id: string;
  playbook: string;
  playbook_version: string;
  params_json: string;
  dry_run: number;
  state: string;
  job_id: string | null;
  approved_by: string | null;
  approved_at: number | null;
  rejected_by: string | null;
  reason: string | null;
  created_at: number;
  expires_at: number | null;
  queued_at: number | null;
  started_at: number | null;
  finished_at: number | null;
  duration_millis: number | null;
  ok: number | null;
  message: string | null;
  error: string | null;
  output_json: string | null;
  attempts: number;
  updated_at: number;
}

const schema = `
CREATE TABLE IF NOT EXISTS remediations (
  id TEXT PRIMARY KEY,
  trigger_id TEXT NOT NULL,
  trigger_kind TEXT NOT NULL,
  trigger_json TEXT NOT NULL,
  triggered_at INTEGER NOT NULL,
  agent_id TEXT NOT NULL,
  playbook TEXT NOT NULL,
  playbook_version TEXT NOT NULL,
  params_json TEXT NOT NULL,
  dry_run INTEGER NOT NULL,
  state TEXT NOT NULL,
  job_id TEXT,
  job_payload TEXT,
  approved_by TEXT,
  approved_at INTEGER,
  rejected_by TEXT,
  reason TEXT,
  created_at INTEGER NOT NULL,
  expires_at INTEGER,
  queued_at INTEGER,
  started_at INTEGER,
  finished_at INTEGER,
  duration_millis INTEGER,
  ok INTEGER,
  message TEXT,
  error TEXT,
  output_json TEXT,
  attempts INTEGER NOT NULL DEFAULT 0,
  updated_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS remediations_state ON remediations (state, created_at);
CREATE INDEX IF NOT EXISTS remediations_target ON remediations (playbook, agent_id, created_at);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
`;

const active = `('queued', 'running')`;
const open = `('pending_approval', 'waiting', 'queued', 'running')`;

/**
 * The audit log of remediations, in SQLite (`<dataDir>/scheduler/remediations.db`).
 * Every state change goes through a conditional UPDATE, so a final result is
 * written once, whatever reruns or duplicate reports follow.
 *
 * Secrets are never kept in the log: parameters, the triggering event, messages and output are
 * masked as they are written (core's `redactJson` / `redactText`) and again as they are read. The
 * one copy of the parameters as given is the job payload, held only until the job is queued.
 */
export class AuditStore {
  private readonly db: Database.Database;
  /** Whether the store is a file with a write-ahead log (not `:memory:`). */
  private readonly wal: boolean;

  private constructor(db: Database.Database, wal: boolean) {
    this.db = db;
    this.wal = wal;
  }

  /** Opens (creating) the store under `<dataDir>/scheduler/`, or in memory for `:memory:`. */
  static open(dataDir: string): AuditStore {
    let db: Database.Database;
    try {
      if (dataDir === ':memory:') {
        db = new Database(':memory:');
      } else {
        const dir = join(dataDir, 'scheduler');
        mkdirSync(dir, { recursive: true });
        db = new Database(join(dir, 'remediations.db'));
        db.pragma('journal_mode = WAL');
      }
      db.pragma('busy_timeout = 5000');
      // A dropped job payload (parameters as given) is zeroed in the file, not left in a free page.
      db.pragma('secure_delete = ON');
      db.exec(schema);
    } catch (error) {
      throw new SlothError('SLOTH_ERR_STORAGE', `cannot open the remediation audit store in ${dataDir}: ${(error as Error).message}`, { cause: error });
    }
    return new AuditStore(db, dataDir !== ':memory:');
  }

  close(): void {
    this.db.close();
  }

  /** Inserts a record unless one with the same id exists; returns whether it was new. */
  insert(record: NewRemediation): boolean {
    const result = this.db
      .prepare(
        `INSERT OR IGNORE INTO remediations (id, trigger_id, trigger_kind, trigger_json, triggered_at, agent_id, playbook, playbook_version,
           params_json, dry_run, state, job_payload, reason, created_at, expires_at, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(
        record.id,
        record.triggerId,
        record.triggerKind,
        JSON.stringify(redactJson(record.trigger)),
        record.triggeredAtMillis,
        record.agentId,
        record.playbook,
        record.playbookVersion,
        JSON.stringify(redactJson(record.params)),
        record.dryRun ? 1 : 0,
        record.state,
        record.jobPayload,
        record.reason ?? null,
        record.createdAtMillis,
        record.expiresAtMillis,
        record.createdAtMillis,
      );
    return result.changes === 1;
  }

  get(id: string): RemediationRecord | undefined {
    const row = this.db.prepare('SELECT * FROM remediations WHERE id = ?').get(id) as Row | undefined;
    return row === undefined ? undefined : fromRow(row);
  }

  jobPayload(id: string): string | null {
    const row = this.db.prepare('SELECT job_payload FROM remediations WHERE id = ?').get(id) as { job_payload: string | null } | undefined;
    return row?.job_payload ?? null;
  }

  list(filter: ListFilter = {}): RemediationRecord[] {
    const where: string[] = [];
    const args: unknown[] = [];
    if (filter.state !== undefined) {
      where.push('state = ?');
      args.push(filter.state);
    }
    if (filter.agentId !== undefined) {
      where.push('agent_id = ?');
      args.push(filter.agentId);
    }
    if (filter.playbook !== undefined) {
      where.push('playbook = ?');
      args.push(filter.playbook);
    }
    const sql = `SELECT * FROM remediations ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY created_at DESC, id LIMIT ?`;
    const rows = this.db.prepare(sql).all(...args, filter.limit ?? 100) as Row[];
    return rows.map(fromRow);
  }

  /** The most recent record of a playbook on a target that counts for its cooldown. */
  lastInCooldown(playbook: string, agentId: string, sinceMillis: number): RemediationRecord | undefined {
    const row = this.db
      .prepare(
        `SELECT * FROM remediations WHERE playbook = ? AND agent_id = ? AND created_at >= ?
           AND state NOT IN ('skipped_cooldown', 'rejected', 'expired') ORDER BY created_at DESC LIMIT 1`,
      )
      .get(playbook, agentId, sinceMillis) as Row | undefined;
    return row === undefined ? undefined : fromRow(row);
  }

  /** Remediations queued or running, all agents and per agent. */
  activeCounts(): { total: number; perAgent: Map<string, number> } {
    const rows = this.db.prepare(`SELECT agent_id, COUNT(*) AS n FROM remediations WHERE state IN ${active} GROUP BY agent_id`).all() as Array<{ agent_id: string; n: number }>;
    const perAgent = new Map<string, number>();
    let total = 0;
    for (const row of rows) {
      perAgent.set(row.agent_id, row.n);
      total += row.n;
    }
    return { total, perAgent };
  }

  /** Records waiting for a concurrency slot, oldest first. */
  waiting(limit = 1000): RemediationRecord[] {
    const rows = this.db.prepare(`SELECT * FROM remediations WHERE state = 'waiting' ORDER BY created_at, id LIMIT ?`).all(limit) as Row[];
    return rows.map(fromRow);
  }

  /** Records the scheduler must still follow (not final). */
  openRecords(): RemediationRecord[] {
    const rows = this.db.prepare(`SELECT * FROM remediations WHERE state IN ${open} ORDER BY created_at`).all() as Row[];
    return rows.map(fromRow);
  }

  /**
   * waiting → queued, when the job is about to be added. The job payload (the playbook's parameters as
   * given, secrets included) is dropped: from here on the job in the agent's queue is the only copy.
   */
  markQueued(id: string, jobId: string, atMillis: number): boolean {
    return this.dropPayload(`UPDATE remediations SET state = 'queued', job_id = ?, queued_at = ?, updated_at = ?, job_payload = NULL WHERE id = ? AND state = 'waiting'`, jobId, atMillis, atMillis, id);
  }

  /** queued → waiting, with the job payload back, when adding the job failed. */
  unmarkQueued(id: string, jobPayload: string, atMillis: number): boolean {
    return this.change(`UPDATE remediations SET state = 'waiting', job_payload = ?, updated_at = ? WHERE id = ? AND state = 'queued'`, jobPayload, atMillis, id);
  }

  approve(id: string, by: string, atMillis: number): boolean {
    return this.change(`UPDATE remediations SET state = 'waiting', approved_by = ?, approved_at = ?, updated_at = ? WHERE id = ? AND state = 'pending_approval'`, by, atMillis, atMillis, id);
  }

  reject(id: string, by: string, reason: string | null, atMillis: number): boolean {
    return this.dropPayload(
      `UPDATE remediations SET state = 'rejected', rejected_by = ?, reason = ?, finished_at = ?, updated_at = ?, job_payload = NULL WHERE id = ? AND state = 'pending_approval'`,
      by,
      reason,
      atMillis,
      atMillis,
      id,
    );
  }

  /** Expires every approval request past its deadline; returns the expired records' ids. */
  expire(nowMillis: number): string[] {
    const rows = this.db.prepare(`SELECT id FROM remediations WHERE state = 'pending_approval' AND expires_at IS NOT NULL AND expires_at <= ?`).all(nowMillis) as Array<{ id: string }>;
    const expired: string[] = [];
    for (const { id } of rows) {
      if (this.change(`UPDATE remediations SET state = 'expired', finished_at = ?, updated_at = ?, reason = 'approval timed out', job_payload = NULL WHERE id = ? AND state = 'pending_approval'`, nowMillis, nowMillis, id)) {
        expired.push(id);
      }
    }
    if (expired.length > 0) this.checkpoint();
    return expired;
  }

  /** Remediations queued or running since before `beforeMillis` (queued time). */
  staleActive(beforeMillis: number): RemediationRecord[] {
    const rows = this.db.prepare(`SELECT * FROM remediations WHERE state IN ${active} AND queued_at IS NOT NULL AND queued_at <= ?`).all(beforeMillis) as Row[];
    return rows.map(fromRow);
  }

  /** queued → running (or a rerun reported while running). */
  markRunning(id: string, attempt: number, atMillis: number): boolean {
    return this.change(
      `UPDATE remediations SET state = 'running', started_at = COALESCE(started_at, ?), attempts = MAX(attempts, ?), updated_at = ? WHERE id = ? AND state IN ${active}`,
      atMillis,
      attempt,
      atMillis,
      id,
    );
  }

  /** queued/running → succeeded/failed. Only the first final report wins. */
  finish(
    id: string,
    result: { state: 'succeeded' | 'failed'; attempt: number; atMillis: number; ok: boolean | null; message: string | null; error: string | null; durationMillis: number | null; output: unknown },
  ): boolean {
    return this.dropPayload(
      `UPDATE remediations SET state = ?, attempts = MAX(attempts, ?), finished_at = ?, started_at = COALESCE(started_at, ?), ok = ?, message = ?, error = ?,
         duration_millis = ?, output_json = ?, job_payload = NULL, updated_at = ? WHERE id = ? AND state IN ${active}`,
      result.state,
      result.attempt,
      result.atMillis,
      result.durationMillis === null ? result.atMillis : result.atMillis - result.durationMillis,
      result.ok === null ? null : result.ok ? 1 : 0,
      result.message === null ? null : redactText(result.message),
      result.error === null ? null : redactText(result.error),
      result.durationMillis,
      JSON.stringify(redactJson(result.output ?? null)),
      result.atMillis,
      id,
    );
  }

  getMeta(key: string): string | undefined {
    const row = this.db.prepare('SELECT value FROM meta WHERE key = ?').get(key) as { value: string } | undefined;
    return row?.value;
  }

  setMeta(key: string, value: string): void {
    this.db.prepare('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value').run(key, value);
  }

  private change(sql: string, ...args: unknown[]): boolean {
    return this.db.prepare(sql).run(...args).changes === 1;
  }

  /** {@link change} for a statement that sets `job_payload = NULL`, then {@link checkpoint}. */
  private dropPayload(sql: string, ...args: unknown[]): boolean {
    const changed = this.change(sql, ...args);
    if (changed) this.checkpoint();
    return changed;
  }

  /**
   * Copies the WAL into the database file and truncates it to zero bytes: the page that still held a
   * dropped job payload (`secure_delete` zeroes it in the database file, not in old WAL frames) leaves
   * the disk now, not at the next automatic checkpoint. A reader mid-transaction can make it partial;
   * the next drop or SQLite's own checkpoint finishes it.
   */
  private checkpoint(): void {
    if (this.wal) this.db.pragma('wal_checkpoint(TRUNCATE)');
  }
}

function parseJson(text: string | null): unknown {
  if (text === null) return null;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

/** A row as every reader gets it: secrets masked again, so rows written before masking existed show none either. */
function fromRow(row: Row): RemediationRecord {
  return {
    id: row.id,
    triggerId: row.trigger_id,
    triggerKind: row.trigger_kind as 'anomaly' | 'event',
    trigger: redactJson(parseJson(row.trigger_json)),
    triggeredAtMillis: row.triggered_at,
    agentId: row.agent_id,
    playbook: row.playbook,
    playbookVersion: row.playbook_version,
    params: (redactJson(parseJson(row.params_json)) ?? {}) as Record<string, unknown>,
    dryRun: row.dry_run === 1,
    state: row.state as RemediationState,
    jobId: row.job_id,
    approvedBy: row.approved_by,
    approvedAtMillis: row.approved_at,
    rejectedBy: row.rejected_by,
    reason: row.reason === null ? null : redactText(row.reason),
    createdAtMillis: row.created_at,
    expiresAtMillis: row.expires_at,
    queuedAtMillis: row.queued_at,
    startedAtMillis: row.started_at,
    finishedAtMillis: row.finished_at,
    durationMillis: row.duration_millis,
    ok: row.ok === null ? null : row.ok === 1,
    message: row.message === null ? null : redactText(row.message),
    error: row.error === null ? null : redactText(row.error),
    output: redactJson(parseJson(row.output_json)),
    attempts: row.attempts,
    updatedAtMillis: row.updated_at,
  };
}
