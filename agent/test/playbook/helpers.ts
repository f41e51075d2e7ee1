import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalPlaybookHost, loadPlaybook, type LocalHostOptions, type PlaybookRuntime } from '../../src/playbook/index.js';

/** A temp directory removed by the returned cleanup. */
export function tempDir(prefix: string): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), `sloth-${prefix}-`));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** A playbook whose run(ctx) has the given body. */
export function playbookSource(body: string, extra = ''): string {
  return `return {\n  name = "t",\n  description = "test",\n  ${extra}\n  run = function(ctx)\n${body}\n  end,\n}\n`;
}

export async function load(runtime: PlaybookRuntime, body: string, extra = ''): ReturnType<typeof loadPlaybook> {
  return loadPlaybook(playbookSource(body, extra), 't.lua', runtime);
}

export function host(dir: string, options: LocalHostOptions = {}): LocalPlaybookHost {
  return new LocalPlaybookHost({ stateDir: join(dir, 'state'), ...options });
}
