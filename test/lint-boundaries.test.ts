import { fileURLToPath } from 'node:url';
import { ESLint, type Linter } from 'eslint';
import tseslint from 'typescript-eslint';
import { describe, expect, it } from 'vitest';

/**
 * The dependency direction (services import core, never each other; core
 * imports no Sloth package) is enforced by the `sloth/boundary` block of
 * eslint.config.js. This runs that block, as configured, on import lines
 * placed in real files of the repository (without type information, so it
 * is quick); `npm run lint` checks that the repository keeps to it.
 */

const root = fileURLToPath(new URL('..', import.meta.url));

let eslint: Promise<ESLint> | undefined;
function linter(): Promise<ESLint> {
  eslint ??= (async () => {
    // By URL: the config is plain JavaScript outside every TypeScript project.
    const { boundaries } = (await import(new URL('../eslint.config.js', import.meta.url).href)) as { boundaries: Linter.Config };
    return new ESLint({
      cwd: root,
      overrideConfigFile: true,
      overrideConfig: [
        { ignores: ['**/dist/**', '**/node_modules/**'] },
        { files: ['**/*.ts'], languageOptions: { parser: tseslint.parser }, linterOptions: { reportUnusedDisableDirectives: 'off' } },
        boundaries,
      ],
    });
  })();
  return eslint;
}

/** Boundary errors and files that do not parse; other rules' disable comments name rules not loaded here. */
const relevant = (m: Linter.LintMessage): boolean => m.ruleId === 'sloth/boundary' || m.fatal === true;

async function boundaryErrors(filePath: string, code: string): Promise<string[]> {
  const [result] = await (await linter()).lintText(code, { filePath: `${root}${filePath}` });
  return (result?.messages ?? []).filter(relevant).map((m) => `${m.ruleId ?? 'parse'}: ${m.message}`);
}

describe('lint boundaries (eslint.config.js, sloth/boundary)', () => {
  const crossing: Array<[string, string]> = [
    ['collector/src/store/sqlite-store.ts', "import { x } from '@sloth/analytics';"],
    ['collector/src/store/sqlite-store.ts', "import { x } from '@sloth/analytics/dist/src/index.js';"],
    ['collector/src/store/sqlite-store.ts', "import type { X } from '@sloth/cli';"],
    ['collector/src/store/sqlite-store.ts', "import { x } from '../../../analytics/src/index.js';"],
    ['analytics/src/forecast/models/ses.ts', "import { x } from '../../../../scheduler/src/index.js';"],
    ['collector/src/store/sqlite-store.ts', "export { x } from '../../../report/src/index.js';"],
    ['collector/src/store/sqlite-store.ts', "export * from '@sloth/alerts';"],
    ['scheduler/src/api.ts', "export const m = await import('@sloth/agent');"],
    ['scheduler/src/api.ts', 'export const m = await import(`../../collector/src/index.js`);'],
    ['scheduler/src/api.ts', "export type T = import('@sloth/collector').Thing;"],
    ['agent/test/agent.test.ts', "import { x } from '../../grafana/src/index.js';"],
    ['core/src/http/create-api.ts', "import { x } from '@sloth/collector';"],
    ['core/src/http/create-api.ts', "import { x } from '../../../collector/src/index.js';"],
    ['core/test/errors.test.ts', "export const m = await import('../../agent/src/index.js');"],
  ];

  it.each(crossing)('%s: %s is an error', async (file, line) => {
    const errors = await boundaryErrors(file, `${line}\n`);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(/^sloth\/boundary: (\w+ must not import another service|core depends on no other Sloth package)/);
  });

  const allowed: Array<[string, string]> = [
    ['collector/src/store/sqlite-store.ts', "import { x } from '@sloth/core';"],
    ['collector/src/store/sqlite-store.ts', "import { x } from '@sloth/core/errors';"],
    ['collector/src/store/sqlite-store.ts', "import { x } from '../query-api.js';"],
    ['analytics/src/forecast/models/ses.ts', "import { x } from '../../service/config.js';"],
    ['core/src/http/create-api.ts', "import { x } from '../errors.js';"],
    ['cli/src/up.ts', "import { x } from '@sloth/collector';"],
    ['test/up.test.ts', "import { x } from '../analytics/src/index.js';"],
  ];

  it.each(allowed)('%s: %s is allowed', async (file, line) => {
    expect(await boundaryErrors(file, `${line}\n`)).toEqual([]);
  });

});
