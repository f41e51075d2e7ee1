// Lint: typescript-eslint with type information, no floating promises, and
// the dependency direction of STYLE.md (services import core, never each other).
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const services = ['agent', 'collector', 'analytics', 'scheduler', 'alerts', 'grafana', 'report'];

function boundary(service) {
  const others = [...services.filter((s) => s !== service), 'cli'];
  return {
    files: [`${service}/**/*.ts`],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: others.map((o) => `@sloth/${o}`),
              message: `${service} must not import another service: talk over OTLP, HTTP or Redis with payloads defined in @sloth/core.`,
            },
            {
              group: others.flatMap((o) => [`../../${o}/*`, `../../../${o}/*`, `../../../../${o}/*`]),
              message: `${service} must not reach into another service's files.`,
            },
          ],
        },
      ],
    },
  };
}

export default tseslint.config(
  { ignores: ['**/dist/**', '**/node_modules/**', '**/*.js', '**/*.cjs', 'vitest.config.ts', 'grafana/dashboards/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: { arguments: false, attributes: false } }],
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports' }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/restrict-template-expressions': ['error', { allowNumber: true, allowBoolean: true }],
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      '@typescript-eslint/require-await': 'off',
    },
  },
  core(),
  ...services.map(boundary),
);

function core() {
  return {
    files: ['core/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [{ group: ['@sloth/*'], message: 'core depends on no other Sloth package.' }] }],
    },
  };
}
