import { chmodSync, mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SlothError } from '@sloth/core';
import { checkFsRoots } from '../../src/playbook/fs-roots.js';
import { startRemediationWorker } from '../../src/jobs/index.js';

let dir: string;

beforeEach(() => {
  dir = realpathSync(mkdtempSync(join(tmpdir(), 'sloth-fs-roots-')));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** The error `checkFsRoots` throws for `roots`. */
async function refusal(roots: string[]): Promise<SlothError> {
  const error = await checkFsRoots(roots).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(SlothError);
  return error as SlothError;
}

describe('playbook fs roots, checked at start', () => {
  it('accepts a private directory and hands back real paths, a link resolved to its target', async () => {
    const data = join(dir, 'data');
    mkdirSync(data, { mode: 0o750 });
    symlinkSync(data, join(dir, 'current'));
    expect(await checkFsRoots([data, join(dir, 'current')])).toEqual([{ root: data, realPath: data }]);
    expect(await checkFsRoots([join(dir, 'current')])).toEqual([{ root: join(dir, 'current'), realPath: data }]);
    expect(await checkFsRoots([])).toEqual([]);
  });

  it('refuses a missing root, a file, a dangling link, a world-writable directory, a link into /etc and /, naming each root and why', async () => {
    const file = join(dir, 'file');
    writeFileSync(file, 'x');
    const open = join(dir, 'open');
    mkdirSync(open);
    chmodSync(open, 0o777);
    symlinkSync(join(dir, 'gone'), join(dir, 'dangling'));
    symlinkSync('/etc', join(dir, 'etc-link'));
    symlinkSync('/', join(dir, 'slash'));
    const error = await refusal([join(dir, 'missing'), file, join(dir, 'dangling'), open, join(dir, 'etc-link'), join(dir, 'slash')]);
    expect(error.code).toBe('SLOTH_ERR_CONFIG');
    expect(error.details.problems).toEqual([
      { root: join(dir, 'missing'), reason: 'does not exist (or is a link to nothing)' },
      { root: file, reason: 'is not a directory' },
      { root: join(dir, 'dangling'), reason: 'does not exist (or is a link to nothing)' },
      { root: open, reason: "is writable by every user (mode 777): chmod o-w it, or name a directory only the agent's user writes to" },
      { root: join(dir, 'etc-link'), reason: 'is a link into the system directory /etc: name the real path if that is what playbooks may change' },
      { root: join(dir, 'slash'), reason: 'is the whole filesystem (it resolves to /)' },
    ]);
    expect(error.message).toContain(`"${open}": is writable by every user`);
    // /etc named as itself is a deliberate choice, not a redirected link.
    expect(await checkFsRoots(['/etc'])).toEqual([{ root: '/etc', realPath: '/etc' }]);
  });

  it('a world-writable target behind a link is refused too, with the path it resolves to', async () => {
    const open = join(dir, 'open');
    mkdirSync(open);
    chmodSync(open, 0o1777);
    symlinkSync(open, join(dir, 'link'));
    const error = await refusal([join(dir, 'link')]);
    expect(error.details.problems).toEqual([{ root: join(dir, 'link'), reason: `is writable by every user (mode 1777) (it resolves to ${open}): chmod o-w it, or name a directory only the agent's user writes to` }]);
  });

  it('the remediation worker (the agent, `sloth remediation worker`) does not start with a bad root', async () => {
    const started = startRemediationWorker({ agentId: 'web-1', redisUrl: 'redis://127.0.0.1:1', stateDir: join(dir, 'state'), fs: { allowRoots: [join(dir, 'missing')] } });
    await expect(started).rejects.toThrow(`"${join(dir, 'missing')}": does not exist`);
  });
});
