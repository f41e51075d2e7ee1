import { mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { playbookDirectory, shippedPlaybooks } from '../src/playbook-default.js';

describe('playbookDirectory', () => {
  const made: string[] = [];
  const scratch = (): string => {
    const dir = mkdtempSync(join(tmpdir(), 'sloth-playbook-default-'));
    made.push(dir);
    return dir;
  };
  afterEach(() => {
    for (const dir of made.splice(0)) rmSync(dir, { recursive: true, force: true });
  });

  it('finds the playbooks shipped with Sloth', () => {
    expect(readdirSync(shippedPlaybooks).filter((name) => name.endsWith('.lua')).length).toBeGreaterThan(0);
  });

  it('falls back to the shipped playbooks only when nobody named a directory and ./playbooks is missing', () => {
    const empty = scratch();
    expect(playbookDirectory(undefined, './playbooks', empty)).toEqual({ directory: shippedPlaybooks, fallback: true });
  });

  it('keeps ./playbooks when the working directory has one', () => {
    const cwd = scratch();
    mkdirSync(join(cwd, 'playbooks'));
    expect(playbookDirectory(undefined, './playbooks', cwd)).toEqual({ directory: './playbooks', fallback: false });
  });

  it('uses what the user named, even when it is missing (its own error names it later)', () => {
    const empty = scratch();
    expect(playbookDirectory('./playbooks', './playbooks', empty)).toEqual({ directory: './playbooks', fallback: false });
    expect(playbookDirectory(undefined, '/srv/sloth/playbooks', empty)).toEqual({ directory: '/srv/sloth/playbooks', fallback: false });
  });

  it('keeps the default when no shipped playbooks exist (an install without them)', () => {
    const empty = scratch();
    expect(playbookDirectory(undefined, './playbooks', empty, join(empty, 'nothing-here'))).toEqual({ directory: './playbooks', fallback: false });
  });
});
