/**
 * The claim ledger on a full disk: its file is on a real tmpfs filled to the last byte. A claim that cannot be
 * written must fail (so its playbook does not run), and every claim that was written must still be there when the
 * ledger is opened again: a line cut short by the full disk must not swallow the next one. Needs root (mount);
 * skipped otherwise.
 */
import { spawnSync } from 'node:child_process';
import { closeSync, mkdirSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ClaimLedger } from '../../src/jobs/index.js';

const dir = mkdtempSync(join(tmpdir(), 'sloth-claim-ledger-full-'));
const ledgerDir = join(dir, 'claims');
mkdirSync(ledgerDir);
const mount = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=1m,mode=0700', 'tmpfs', ledgerDir], { encoding: 'utf8' });
const mounted = mount.status === 0;
if (mounted) process.once('exit', () => spawnSync('umount', ['-l', ledgerDir]));
else console.warn(`claim-ledger-disk-full skipped: cannot mount a tmpfs (needs root): ${(mount.stderr || String(mount.error)).trim()}`);

afterAll(() => {
  if (mounted) spawnSync('umount', ['-l', ledgerDir]);
  rmSync(dir, { recursive: true, force: true });
});

/** Fills the file system holding `path` to the last byte. */
function fill(path: string): void {
  const fd = openSync(path, 'w');
  try {
    for (const chunk of [Buffer.alloc(1 << 16, 7), Buffer.alloc(512, 7), Buffer.alloc(1, 7)]) {
      try {
        for (;;) writeSync(fd, chunk);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'ENOSPC') throw error;
      }
    }
  } finally {
    closeSync(fd);
  }
}

describe('claim ledger on a full disk (tmpfs)', () => {
  it.skipIf(!mounted)('fails the claims it cannot write, and keeps every claim it wrote across a reopen', async () => {
    const ledger = new ClaimLedger(ledgerDir, { maxBytes: 1 << 20, compactIntervalMillis: 3_600_000 });
    await ledger.open();
    const until = Date.now() + 3_600_000;
    // Long job ids: the file's last page fills after a few lines, so one line meets the full disk half-way.
    const jobId = (i: number): string => `job-${i}-${'x'.repeat(300)}`;
    expect((await ledger.take('r-0', jobId(0), until)).taken).toBe(true);
    const filler = join(ledgerDir, 'filler');
    fill(filler);
    const taken = ['r-0'];
    let failures = 0;
    for (let i = 1; i <= 40; i += 1) {
      try {
        if ((await ledger.take(`r-${i}`, jobId(i), until)).taken) taken.push(`r-${i}`);
      } catch (error) {
        expect((error as NodeJS.ErrnoException).code).toBe('ENOSPC');
        failures += 1;
      }
    }
    expect(failures).toBeGreaterThan(0);
    // Room again: the next claims are written after whatever the full disk left.
    rmSync(filler);
    for (let i = 41; i <= 43; i += 1) if ((await ledger.take(`r-${i}`, jobId(i), until)).taken) taken.push(`r-${i}`);
    await ledger.close();
    const reopened = new ClaimLedger(ledgerDir, { maxBytes: 1 << 20, compactIntervalMillis: 3_600_000 });
    await reopened.open();
    try {
      expect(taken.filter((id) => reopened.get(id) === undefined)).toEqual([]);
      for (let i = 1; i <= 40; i += 1) if (!taken.includes(`r-${i}`)) expect(reopened.get(`r-${i}`), `r-${i}`).toBeUndefined();
    } finally {
      await reopened.close();
    }
  });
});
