import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ConfigError, errorCatalogue, SlothError, version } from '../src/index.js';

describe('error catalogue', () => {
  it('documents every code in docs/errors.md', () => {
    const doc = readFileSync(new URL('../../docs/errors.md', import.meta.url), 'utf8');
    const missing = Object.keys(errorCatalogue).filter((code) => !doc.includes(`\`${code}\``));
    expect(missing).toEqual([]);
  });

  it('carries code, message and details', () => {
    const error = new SlothError('SLOTH_ERR_INPUT', 'line 3: value "abc" is not a number', { details: { line: 3 } });
    expect(error.toJSON()).toEqual({ code: 'SLOTH_ERR_INPUT', message: 'line 3: value "abc" is not a number', details: { line: 3 } });
    const config = new ConfigError([{ key: 'collector.port', source: 'flag --port', value: -1, message: 'too small' }]);
    expect(config.message).toBe('invalid configuration (1 problem):\n  - collector.port = -1 (flag --port): too small');
  });
});

describe('version', () => {
  it('matches the root package.json', () => {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
    expect(version).toBe(pkg.version);
  });
});
