import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { loadAlertsFile } from '@sloth/alerts';
import { alertsRulesFile, playbookDirectory, shippedAlerts, shippedPlaybooks } from '../src/shipped-defaults.js';

describe('what ships with Sloth, used when nobody names their own', () => {
  const made: string[] = [];
  const scratch = (): string => {
    const dir = mkdtempSync(join(tmpdir(), 'sloth-shipped-defaults-'));
    made.push(dir);
    return dir;
  };
  afterEach(() => {
    for (const dir of made.splice(0)) rmSync(dir, { recursive: true, force: true });
  });

  it('finds the shipped playbooks and a valid shipped alerts file with rules', () => {
    expect(readdirSync(shippedPlaybooks).filter((name) => name.endsWith('.lua')).length).toBeGreaterThan(0);
    expect(loadAlertsFile(shippedAlerts).rules.length).toBeGreaterThan(0);
  });

  it('falls back only when nobody named one and the default is missing here', () => {
    const empty = scratch();
    expect(playbookDirectory(undefined, './playbooks', empty)).toEqual({ path: shippedPlaybooks, fallback: true });
    expect(alertsRulesFile(undefined, './alerts.yaml', empty)).toEqual({ path: shippedAlerts, fallback: true });
  });

  it('keeps the default when the working directory has it', () => {
    const cwd = scratch();
    mkdirSync(join(cwd, 'playbooks'));
    writeFileSync(join(cwd, 'alerts.yaml'), 'rules: []\n');
    expect(playbookDirectory(undefined, './playbooks', cwd)).toEqual({ path: './playbooks', fallback: false });
    expect(alertsRulesFile(undefined, './alerts.yaml', cwd)).toEqual({ path: './alerts.yaml', fallback: false });
  });

  it('uses what the user named, even when it is missing (its own error or "no rules" follows)', () => {
    const empty = scratch();
    expect(playbookDirectory('./playbooks', './playbooks', empty)).toEqual({ path: './playbooks', fallback: false });
    expect(playbookDirectory(undefined, '/srv/sloth/playbooks', empty)).toEqual({ path: '/srv/sloth/playbooks', fallback: false });
    expect(alertsRulesFile('./alerts.yaml', './alerts.yaml', empty)).toEqual({ path: './alerts.yaml', fallback: false });
    expect(alertsRulesFile(undefined, '/etc/sloth/alerts.yaml', empty)).toEqual({ path: '/etc/sloth/alerts.yaml', fallback: false });
  });

  it('keeps the default when nothing ships (an install without the checkout)', () => {
    const empty = scratch();
    expect(playbookDirectory(undefined, './playbooks', empty, join(empty, 'nothing-here'))).toEqual({ path: './playbooks', fallback: false });
    expect(alertsRulesFile(undefined, './alerts.yaml', empty, join(empty, 'nothing-here.yaml'))).toEqual({ path: './alerts.yaml', fallback: false });
  });
});
