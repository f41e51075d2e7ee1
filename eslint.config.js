// Lint: typescript-eslint with type information, no floating promises, and
// the dependency direction of STYLE.md (services import core, never each other).
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import { dirname, isAbsolute, relative, resolve, sep } from 'node:path';

const services = ['agent', 'collector', 'analytics', 'scheduler', 'alerts', 'grafana', 'report'];
const packages = ['core', ...services, 'cli'];

/**
 * The dependency direction of STYLE.md as one rule: a service imports only
 * core and itself, core imports no other Sloth package. It resolves relative
 * paths (any depth) and checks static, dynamic and type-only imports,
 * re-exports and require(); `cli`, `test/` and `bench/` wire services together
 * and are not checked.
 */
const boundaryRule = {
  meta: {
    type: 'problem',
    schema: [],
    messages: {
      service: '{{own}} must not import another service ({{target}} via "{{source}}"): talk over OTLP, HTTP or Redis with payloads defined in @sloth/core.',
      core: 'core depends on no other Sloth package ({{target}} via "{{source}}").',
    },
  },
  create(context) {
    const file = context.filename;
    const own = relative(import.meta.dirname, file).split(sep)[0];
    if (own !== 'core' && !services.includes(own)) return {};
    const check = (node, source) => {
      if (typeof source !== 'string') return;
      let target;
      if (source.startsWith('@sloth/')) target = source.slice('@sloth/'.length).split('/')[0];
      else if (source.startsWith('.')) {
        const path = relative(import.meta.dirname, resolve(dirname(file), source));
        if (path.startsWith('..') || isAbsolute(path)) return;
        target = path.split(sep)[0];
        if (!packages.includes(target)) return;
      } else return;
      if (own === 'core' ? target !== 'core' || source.startsWith('@sloth/') : target !== 'core' && target !== own) {
        context.report({ node, messageId: own === 'core' ? 'core' : 'service', data: { own, target, source } });
      }
    };
    const literal = (node) => (node?.type === 'Literal' ? node.value : node?.type === 'TemplateLiteral' && node.expressions.length === 0 ? node.quasis[0]?.value.cooked : undefined);
    return {
      ImportDeclaration: (node) => check(node, node.source.value),
      ExportNamedDeclaration: (node) => node.source && check(node, node.source.value),
      ExportAllDeclaration: (node) => check(node, node.source.value),
      ImportExpression: (node) => check(node, literal(node.source)),
      TSImportType: (node) => check(node, literal(node.argument?.literal ?? node.argument)),
      TSExternalModuleReference: (node) => check(node, literal(node.expression)),
      CallExpression: (node) => node.callee.type === 'Identifier' && node.callee.name === 'require' && check(node, literal(node.arguments[0])),
    };
  },
};

/** The boundary rule's config block (test/lint-boundaries.test.ts runs it on its own). */
export const boundaries = {
  files: ['**/*.ts'],
  plugins: { sloth: { rules: { boundary: boundaryRule } } },
  rules: { 'sloth/boundary': 'error' },
};

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
  boundaries,
);

