import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const packages = ['core', 'agent', 'collector', 'analytics', 'scheduler', 'alerts', 'grafana', 'report', 'cli'];

/** `@sloth/<pkg>/<sub>` → its TypeScript source, read from the package's `exports` (`./dist/src/x.js` → `./src/x.ts`). */
function subpathAliases(pkg: string): Array<{ find: RegExp; replacement: string }> {
  const manifest = JSON.parse(readFileSync(new URL(`./${pkg}/package.json`, import.meta.url), 'utf8')) as { exports?: Record<string, { default?: string }> };
  return Object.entries(manifest.exports ?? {})
    .filter(([sub, target]) => sub !== '.' && typeof target.default === 'string')
    .map(([sub, target]) => ({
      find: new RegExp(`^@sloth/${pkg}/${sub.slice(2).replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`),
      replacement: fileURLToPath(new URL(`./${pkg}/${(target.default as string).replace(/^\.\/dist\//, '').replace(/\.js$/, '.ts')}`, import.meta.url)),
    }));
}

export default defineConfig({
  resolve: {
    // Tests run against the TypeScript sources, not stale build output.
    alias: [
      ...packages.map((p) => ({ find: new RegExp(`^@sloth/${p}$`), replacement: fileURLToPath(new URL(`./${p}/src/index.ts`, import.meta.url)) })),
      ...packages.flatMap(subpathAliases),
    ],
  },
  test: {
    include: ['*/test/**/*.test.ts', 'test/**/*.test.ts'],
    exclude: ['**/node_modules/**', '**/dist/**'],
    pool: 'forks',
    testTimeout: 60_000,
    hookTimeout: 60_000,
    reporters: ['default'],
  },
});
