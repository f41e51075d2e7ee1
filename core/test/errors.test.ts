import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ConfigError, errorCatalogue, SlothError, statusForCode, version, type SlothErrorCode } from '../src/index.js';

describe('error catalogue', () => {
  it('docs/errors.md lists exactly the codes of the catalogue, each with its text and the HTTP status an API answers it with', () => {
    const doc = readFileSync(new URL('../../docs/errors.md', import.meta.url), 'utf8');
    const rows = [...doc.matchAll(/^\| `(SLOTH_ERR_\w+)` \| (\d{3}) \| (.+?) \| (.+?) \|$/gm)].map(([, code, status, meaning, todo]) => ({ code, status, meaning, todo }));
    // Every code the document mentions anywhere is a row of the table (no stale code in prose).
    expect(new Set(doc.match(/SLOTH_ERR_[A-Z_]+(?!\w|…)/g))).toEqual(new Set(rows.map((r) => r.code)));
    expect(rows.map((r) => r.code).sort()).toEqual(Object.keys(errorCatalogue).sort());
    for (const row of rows) {
      const code = row.code as SlothErrorCode;
      expect(row.meaning, code).toBe(errorCatalogue[code]);
      expect(Number(row.status), code).toBe(statusForCode(code));
      expect(row.todo?.length, code).toBeGreaterThan(10);
    }
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
