import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { silentLogger, sleep } from '@sloth/core';
import type { AlertsFile } from '../src/index.js';
import { RulesWatcher } from '../src/rules-watcher.js';

const rules = (threshold: string): string => `rules:
  - name: HighCpu
    type: threshold
    metric: system.cpu.utilization
    op: '>'
    threshold: ${threshold}
`;

async function until(what: string, probe: () => boolean): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (!probe()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

describe('alerts file hot reload', () => {
  let dir: string | undefined;
  let watcher: RulesWatcher | undefined;
  afterEach(() => {
    watcher?.shutdown();
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  it('applies a valid edit, refuses an invalid one with the reason and keeps the previous rules', async () => {
    dir = mkdtempSync(join(tmpdir(), 'sloth-alerts-watch-'));
    const path = join(dir, 'alerts.yaml');
    writeFileSync(path, rules('0.9'));
    const applied: AlertsFile[] = [];
    watcher = new RulesWatcher({ path, apply: (f) => applied.push(f), logger: silentLogger(), debounceMillis: 50 });
    watcher.start();

    writeFileSync(path, rules('0.8'));
    await until('the valid edit', () => applied.length === 1);
    expect(applied[0]?.rules[0]?.spec).toMatchObject({ threshold: 0.8 });

    writeFileSync(path, rules('"very high"'));
    await until('the refused edit', () => watcher?.lastError !== undefined);
    expect(watcher.lastError).toContain('rules[0] (HighCpu).threshold');
    expect(applied).toHaveLength(1);

    // Editors often write a temporary file and rename it over the original.
    writeFileSync(join(dir, 'alerts.yaml.tmp'), rules('0.7'));
    renameSync(join(dir, 'alerts.yaml.tmp'), path);
    await until('the renamed edit', () => applied.length === 2);
    expect(applied[1]?.rules[0]?.spec).toMatchObject({ threshold: 0.7 });
    expect(watcher.lastError).toBeUndefined();
  });
});
