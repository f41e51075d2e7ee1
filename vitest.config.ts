import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const packages = ['core', 'agent', 'collector', 'analytics', 'scheduler', 'alerts', 'grafana', 'report', 'cli'];

export default defineConfig({
  resolve: {
    // Tests run against the TypeScript sources, not stale build output.
    alias: packages.map((p) => ({ find: new RegExp(`^@sloth/${p}$`), replacement: fileURLToPath(new URL(`./${p}/src/index.ts`, import.meta.url)) })),
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
