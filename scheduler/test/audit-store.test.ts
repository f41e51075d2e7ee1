import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { AuditStore, type NewRemediation } from '../src/audit-store.js';

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function remediation(id: string, secret: string, state: NewRemediation['state']): NewRemediation {
  const now = Date.now();
  return {
    id, triggerId: 't', triggerKind: 'event', trigger: {}, triggeredAtMillis: now, agentId: 'web-1', playbook: 'p', playbookVersion: '1',
    params: { password: secret }, dryRun: false, state, createdAtMillis: now, expiresAtMillis: state === 'pending_approval' ? now : null,
    jobPayload: JSON.stringify({ params: { password: secret } }),
  };
}

/** How often `secret` occurs in the database file and in its WAL, read as bytes. */
function onDisk(dir: string, secret: string): Record<string, number> {
  const count = (file: string): number => (existsSync(file) ? readFileSync(file).toString('latin1').split(secret).length - 1 : 0);
  const db = join(dir, 'scheduler', 'remediations.db');
  return { db: count(db), wal: count(`${db}-wal`) };
}

describe('AuditStore', () => {
  it('leaves a dropped job payload neither in the database file nor in its WAL, while the store stays open', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sloth-audit-'));
    dirs.push(dir);
    const store = AuditStore.open(dir);
    try {
      const queued = 'queued-secret-7c1e9a42';
      const rejected = 'rejected-secret-5d2b8f13';
      const expired = 'expired-secret-9a4c6e21';
      store.insert(remediation('r1', queued, 'waiting'));
      store.insert(remediation('r2', rejected, 'pending_approval'));
      store.insert(remediation('r3', expired, 'pending_approval'));
      expect(store.jobPayload('r1')).toContain(queued);
      expect(onDisk(dir, queued).wal).toBeGreaterThan(0); // the test can see a payload where it is

      expect(store.markQueued('r1', 'job-1', Date.now())).toBe(true);
      expect(store.reject('r2', 'alice', 'no', Date.now())).toBe(true);
      expect(store.expire(Date.now() + 1)).toEqual(['r3']);

      for (const secret of [queued, rejected, expired]) expect(onDisk(dir, secret), secret).toEqual({ db: 0, wal: 0 });
      expect(store.jobPayload('r1')).toBeNull();
      expect(store.get('r1')?.state).toBe('queued');
    } finally {
      store.close();
    }
  });
});
