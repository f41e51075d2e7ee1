import { mkdir, open, readFile, rename, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { SlothError } from '@sloth/core';
import type { JobReturn } from './job-worker.js';

/** One remediation id taken on this agent: by which BullMQ job, until when, and its result once known. */
export interface ClaimEntry {
  jobId: string;
  /** The job's signed expiry plus the clock skew: after this the signature refuses the job, so the entry can go. */
  keepUntilMillis: number;
  result?: JobReturn | undefined;
}

type Line = { r: string; j: string; u: number; result?: JobReturn; released?: true };

/** The ledger holds more than its cap even once compacted: the worker refuses signed jobs rather than forget claims. */
export class ClaimLedgerFullError extends SlothError {
  constructor(path: string, bytes: number, maxBytes: number) {
    super('SLOTH_ERR_STORAGE', `the agent's claim ledger ${path} holds ${bytes} bytes of unexpired claims, over its cap of ${maxBytes}: signed jobs are refused until claims expire (raise claimLedgerMaxBytes or lower the signed validity)`, { details: { path, bytes, maxBytes } });
  }
}

/**
 * The remediation ids this agent has taken, on its own disk: an append-only file of JSON lines, each
 * fsync'ed before the call that wrote it returns, so a claim exists before its playbook runs and
 * survives Redis being emptied (DEL, FLUSHALL, a restart without persistence) and the agent restarting.
 * Entries past their expiry are dropped when the file is compacted (at open, then every
 * `compactIntervalMillis`, and when the file reaches its cap).
 */
export class ClaimLedger {
  readonly path: string;
  private readonly entries = new Map<string, ClaimEntry>();
  /** Claims being written: they hold their id already, but compaction must not write them before their own line succeeds. */
  private readonly pending = new Map<string, ClaimEntry>();
  private file: FileHandle | undefined;
  private bytes = 0;
  private writes: Promise<unknown> = Promise.resolve();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly dir: string,
    private readonly options: { maxBytes: number; compactIntervalMillis: number },
  ) {
    this.path = join(dir, 'remediation-claims.jsonl');
  }

  async open(): Promise<void> {
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    let text = '';
    try {
      text = await readFile(this.path, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
    for (const raw of text.split('\n')) {
      if (raw === '') continue;
      let line: Line;
      try {
        line = JSON.parse(raw) as Line;
      } catch {
        continue; // a line torn by a crash mid-write: its call never returned, so nothing ran on it
      }
      this.apply(line);
    }
    await this.compact();
    this.timer = setInterval(() => void this.serial(() => this.compact()).catch(() => undefined), this.options.compactIntervalMillis);
    this.timer.unref();
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    await this.writes.catch(() => undefined);
    await this.file?.close();
    this.file = undefined;
  }

  get(remediationId: string, nowMillis = Date.now()): ClaimEntry | undefined {
    const entry = this.entries.get(remediationId) ?? this.pending.get(remediationId);
    return entry !== undefined && entry.keepUntilMillis > nowMillis ? entry : undefined;
  }

  /**
   * Takes `remediationId` for `jobId` unless an unexpired entry has it; the check and the take are one
   * step (concurrent jobs of one id cannot both pass). Returns the entry that holds the id; `taken` once
   * this call's line is on disk.
   */
  async take(remediationId: string, jobId: string, keepUntilMillis: number): Promise<{ taken: boolean; entry: ClaimEntry }> {
    const held = this.get(remediationId);
    if (held !== undefined) return { taken: false, entry: held };
    const entry: ClaimEntry = { jobId, keepUntilMillis };
    this.pending.set(remediationId, entry);
    try {
      await this.append({ r: remediationId, j: jobId, u: keepUntilMillis });
      this.entries.set(remediationId, entry);
    } finally {
      this.pending.delete(remediationId);
    }
    return { taken: true, entry };
  }

  /** Records the result of the job that holds `remediationId` (a redelivery then returns it instead of running). */
  async finish(remediationId: string, jobId: string, result: JobReturn): Promise<void> {
    const entry = this.entries.get(remediationId);
    if (entry === undefined || entry.jobId !== jobId) return;
    entry.result = result;
    await this.append({ r: remediationId, j: jobId, u: entry.keepUntilMillis, result });
  }

  /** Gives the id back (the job was refused after it took it here), so a genuine job can still take it. */
  async release(remediationId: string, jobId: string): Promise<void> {
    const entry = this.entries.get(remediationId);
    if (entry === undefined || entry.jobId !== jobId || entry.result !== undefined) return;
    this.entries.delete(remediationId);
    await this.append({ r: remediationId, j: jobId, u: entry.keepUntilMillis, released: true });
  }

  private apply(line: Line): void {
    if (typeof line.r !== 'string' || typeof line.j !== 'string' || typeof line.u !== 'number') return;
    const held = this.entries.get(line.r);
    if (line.released === true) {
      if (held?.jobId === line.j) this.entries.delete(line.r);
      return;
    }
    if (held !== undefined && held.jobId !== line.j) return; // the first taker keeps the id
    this.entries.set(line.r, { jobId: line.j, keepUntilMillis: line.u, result: line.result ?? held?.result });
  }

  private async append(line: Line): Promise<void> {
    const bytes = Buffer.from(`${JSON.stringify(line)}\n`, 'utf8');
    await this.serial(async () => {
      if (this.bytes + bytes.length > this.options.maxBytes) await this.compact();
      if (this.bytes + bytes.length > this.options.maxBytes) throw new ClaimLedgerFullError(this.path, this.bytes, this.options.maxBytes);
      const file = this.file ?? (this.file = await open(this.path, 'a', 0o600));
      try {
        // A write may take only part of the line (a disk that fills up mid-way): the rest is written, or the
        // error raised; either way no claim is taken on a line that is not whole on disk.
        for (let written = 0; written < bytes.length; ) written += (await file.write(bytes, written)).bytesWritten;
        await file.sync();
      } catch (error) {
        // Cut the file back to its last whole line, so the next claim's line does not start inside this one.
        await file.truncate(this.bytes).catch(() => undefined);
        throw error;
      }
      this.bytes += bytes.length;
    });
  }

  /** Rewrites the file with the unexpired entries only: written and fsync'ed aside, renamed over, directory fsync'ed. */
  private async compact(): Promise<void> {
    const nowMillis = Date.now();
    const lines: string[] = [];
    for (const [remediationId, entry] of this.entries) {
      if (entry.keepUntilMillis <= nowMillis) {
        this.entries.delete(remediationId);
        continue;
      }
      lines.push(JSON.stringify({ r: remediationId, j: entry.jobId, u: entry.keepUntilMillis, ...(entry.result === undefined ? {} : { result: entry.result }) } satisfies Line));
    }
    const text = lines.map((line) => `${line}\n`).join('');
    const aside = `${this.path}.tmp`;
    const tmp = await open(aside, 'w', 0o600);
    try {
      await tmp.write(text);
      await tmp.sync();
    } finally {
      await tmp.close();
    }
    await this.file?.close();
    this.file = undefined;
    await rename(aside, this.path);
    const dir = await open(this.dir, 'r');
    try {
      await dir.sync();
    } finally {
      await dir.close();
    }
    this.bytes = Buffer.byteLength(text, 'utf8');
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.writes.then(fn, fn);
    this.writes = next.catch(() => undefined);
    return next;
  }
}
