import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { mayWriteFor, parseTokenSpec, readTokenFile, TokenSet } from '../src/index.js';

describe('tokens', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sloth-tokens-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('parses SECRET[:name] and refuses short secrets', () => {
    expect(parseTokenSpec('abcdefgh12:web-1')).toEqual({ token: 'abcdefgh12', name: 'web-1' });
    expect(parseTokenSpec('abcdefgh12')).toEqual({ token: 'abcdefgh12', name: 'default' });
    expect(parseTokenSpec('abcdefgh12', { admin: true })).toEqual({ token: 'abcdefgh12', name: 'admin', admin: true });
    expect(() => parseTokenSpec('short:web-1')).toThrow(/at least 8 characters/);
  });

  it('binds a named token to agent ids matching its name; admin and bare tokens write for any agent', () => {
    const set = new TokenSet([
      { token: 'secret-web-one', name: 'web-*' },
      { token: 'secret-db-onee', name: 'db-1' },
      { token: 'secret-bare-one', name: 'default' },
      { token: 'secret-admin-1', name: 'ops', admin: true },
      { token: 'secret-wide-one', name: 'fleet', agents: ['a-*', 'b-1'] },
    ]);
    const web = set.authenticate('Bearer secret-web-one');
    expect(web?.name).toBe('web-*');
    expect(mayWriteFor(web!, 'web-7')).toBe(true);
    expect(mayWriteFor(web!, 'db-1')).toBe(false);
    const db = set.authenticate('bearer secret-db-onee');
    expect(mayWriteFor(db!, 'db-1')).toBe(true);
    expect(mayWriteFor(db!, 'db-10')).toBe(false);
    expect(mayWriteFor(set.authenticate('Bearer secret-bare-one')!, 'anything')).toBe(true);
    const admin = set.authenticate('Bearer secret-admin-1');
    expect(admin).toEqual({ name: 'ops', admin: true, agents: 'any' });
    const fleet = set.authenticate('Bearer secret-wide-one')!;
    expect([mayWriteFor(fleet, 'a-3'), mayWriteFor(fleet, 'b-1'), mayWriteFor(fleet, 'fleet')]).toEqual([true, true, false]);
    expect(set.authenticate('Bearer nope-nope-nope')).toBeUndefined();
    expect(set.authenticate('Basic secret-web-one')).toBeUndefined();
    expect(set.authenticate(undefined)).toBeUndefined();
  });

  it('lets requests in as anonymous only with insecureNoAuth', () => {
    const open = new TokenSet([], { insecureNoAuth: true });
    expect(open.authenticate(undefined)?.name).toBe('anonymous');
  });

  it('reads a token file with comments, and refuses one readable by others', () => {
    const path = join(dir, 'tokens');
    writeFileSync(path, '# agents\nsecret-web-one:web-1\n\nsecret-db-onee:db-1\n', { mode: 0o600 });
    expect(readTokenFile(path).map((t) => t.name)).toEqual(['web-1', 'db-1']);
    chmodSync(path, 0o644);
    expect(() => readTokenFile(path)).toThrow(/readable by other users.*chmod 600/);
    const empty = join(dir, 'empty');
    writeFileSync(empty, '# nothing\n', { mode: 0o600 });
    expect(() => readTokenFile(empty)).toThrow(/holds no token/);
  });

  it('refuses a token file that is a FIFO at once, naming it, instead of blocking on it', () => {
    const fifo = join(dir, 'fifo-tokens');
    expect(spawnSync('mkfifo', ['-m', '600', fifo]).status).toBe(0);
    // A writer that shows up after a second (and gives up after five): a read that waits for it returns its
    // token, so a reader that does not refuse FIFOs fails this test instead of hanging it.
    const writer = spawn('timeout', ['5', 'sh', '-c', `sleep 1; echo fifo-secret-token:web-1 > ${fifo}`], { stdio: 'ignore' });
    try {
      expect(() => readTokenFile(fifo)).toThrow(`token file ${fifo} is not a regular file (a FIFO)`);
    } finally {
      writer.kill();
    }
  });

  it('refuses a token file over 1 MiB by its size, and a directory by what it is', () => {
    const big = join(dir, 'big-tokens');
    writeFileSync(big, 'secret-web-one:web-1\n', { mode: 0o600 });
    truncateSync(big, 2 * 1024 * 1024);
    expect(() => readTokenFile(big)).toThrow(`token file ${big} is 2.0 MiB, more than the 1.0 MiB it may hold`);
    expect(() => readTokenFile(dir)).toThrow(`token file ${dir} is not a regular file (a directory)`);
    expect(() => readTokenFile(join(dir, 'missing'))).toThrow(`token file ${join(dir, 'missing')} does not exist`);
  });
});

