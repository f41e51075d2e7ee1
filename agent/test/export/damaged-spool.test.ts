import { spawnSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createLogger, sleep } from '@sloth/core';
import { DurableSender } from '../../src/export/durable-sender.js';
import { OtlpTransport } from '../../src/export/otlp-transport.js';
import { OtlpSink } from '../helpers/otlp-sink.js';

/**
 * A damaged spool never crash-loops the agent nor stalls its export: a dangling symlink, a FIFO, a
 * directory or an unreadable file where a spooled batch should be is skipped with a warning, and the
 * good batches around it are sent in order over real HTTP.
 */

const name = (seq: number, signal = 'metrics'): string => `${String(seq).padStart(16, '0')}-${signal}.otlp`;

let dir: string;
let spoolDir: string;
let sink: OtlpSink;
let logFile: string;
const senders: DurableSender[] = [];

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sloth-damaged-spool-'));
  spoolDir = join(dir, 'spool');
  mkdirSync(spoolDir);
  logFile = join(dir, 'agent.log');
  sink = new OtlpSink();
  await sink.start();
});

afterEach(async () => {
  for (const s of senders.splice(0)) await s.shutdown();
  await sink.stop();
  rmSync(dir, { recursive: true, force: true });
});

async function waitFor(predicate: () => boolean, what: string, timeoutMillis = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMillis;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

/** Good batches 1 and 9 around the damaged entry; returns what the collector received, in order. */
async function sendAround(damage: (path: string) => void, seq = 5): Promise<{ received: string[]; sender: DurableSender; log: string }> {
  writeFileSync(join(spoolDir, name(1)), 'batch-1');
  damage(join(spoolDir, name(seq)));
  writeFileSync(join(spoolDir, name(9)), 'batch-9');
  const logger = createLogger({ level: 'warn', destination: logFile });
  const sender = new DurableSender({ transport: new OtlpTransport({ collectorUrl: sink.url, token: 't', timeoutMillis: 2_000 }), spoolDir, logger, minBackoffMillis: 20, maxBackoffMillis: 100 });
  senders.push(sender);
  await sender.start();
  sender.enqueue('metrics', Buffer.from('batch-new'));
  await waitFor(() => sink.requests.length >= 3 && sender.stats.queuedBatches === 0, 'the good batches to be sent');
  logger.flush();
  await sleep(50);
  const { readFileSync } = await import('node:fs');
  return { received: sink.requests.map((r) => r.body.toString()), sender, log: existsSync(logFile) ? readFileSync(logFile, 'utf8') : '' };
}

describe('agent export with a damaged spool', () => {
  it('skips a dangling symlink', async () => {
    const { received, log } = await sendAround((path) => symlinkSync(join(dir, 'gone'), path));
    expect(received).toEqual(['batch-1', 'batch-9', 'batch-new']);
    expect(log).toMatch(/symbolic link, not a regular file/);
  });

  it('does not follow a symlink to a readable file (it could point at a secret)', async () => {
    writeFileSync(join(dir, 'secret'), 'root-password');
    const { received } = await sendAround((path) => symlinkSync(join(dir, 'secret'), path));
    expect(received).toEqual(['batch-1', 'batch-9', 'batch-new']);
  });

  it('skips a FIFO instead of blocking on it', async () => {
    const { received, log } = await sendAround((path) => {
      const made = spawnSync('mkfifo', [path]);
      if (made.status !== 0) throw new Error(`mkfifo failed: ${made.stderr.toString()}`);
    });
    expect(received).toEqual(['batch-1', 'batch-9', 'batch-new']);
    expect(log).toMatch(/FIFO, not a regular file/);
  });

  it('skips a directory, and never reuses its name for a new batch', async () => {
    const { received, log, sender } = await sendAround((path) => mkdirSync(path), 12);
    expect(received).toEqual(['batch-1', 'batch-9', 'batch-new']);
    expect(log).toMatch(/directory, not a regular file/);
    expect(sender.stats.sentBatches).toBe(3);
  });

  const agentDist = fileURLToPath(new URL('../../dist/src/export/', import.meta.url));
  const root = process.getuid?.() === 0;
  it.skipIf(!existsSync(join(agentDist, 'durable-sender.js')))('skips a file it cannot read and sends the rest', async () => {
    writeFileSync(join(spoolDir, name(1)), 'batch-1');
    writeFileSync(join(spoolDir, name(5)), 'unreadable');
    chmodSync(join(spoolDir, name(5)), 0o000);
    writeFileSync(join(spoolDir, name(9)), 'batch-9');
    // Root reads any file: the agent runs as `nobody` (a child process) so that mode 000 really refuses it.
    if (root) {
      chmodSync(dir, 0o755);
      chownSync(spoolDir, 65534, 65534);
      for (const n of [name(1), name(9)]) chownSync(join(spoolDir, n), 65534, 65534);
    }
    const script = join(dir, 'agent-export.mjs');
    writeFileSync(
      script,
      `const { DurableSender } = await import(${JSON.stringify(pathToFileURL(join(agentDist, 'durable-sender.js')).href)});
// This sandbox refuses loopback connections to other users, so the collector is a recording transport here.
const received = [];
const transport = { async send(signal, body) { received.push(Buffer.from(body).toString()); return { kind: 'success' }; } };
const lines = [];
const log = (level) => (fields, message) => lines.push({ level, message, code: fields?.err?.code });
const logger = { info: log('info'), warn: log('warn'), error: log('error'), debug() {} };
const sender = new DurableSender({ transport, spoolDir: process.argv[3], logger, minBackoffMillis: 20, maxBackoffMillis: 100 });
await sender.start();
const drained = await sender.drain(10000);
await sender.shutdown();
process.stdout.write(JSON.stringify({ drained, received, stats: sender.stats, lines }));
`,
    );
    chmodSync(script, 0o644);
    const child = spawnSync(process.execPath, [script, sink.url, spoolDir], { encoding: 'utf8', timeout: 30_000, ...(root ? { uid: 65534, gid: 65534 } : {}) });
    const out = JSON.parse(child.stdout) as { drained: boolean; received: string[]; stats: { sentBatches: number }; lines: Array<{ level: string; message: string; code?: string }> };
    expect(out.drained, child.stdout + child.stderr).toBe(true);
    expect(out.received).toEqual(['batch-1', 'batch-9']);
    expect(out.lines.some((l) => l.level === 'warn' && l.code === 'EACCES' && /cannot read a spooled export batch; skipping it/.test(l.message))).toBe(true);
  });
});
