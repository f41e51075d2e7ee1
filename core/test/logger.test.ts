import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger } from '../src/logger.js';

describe('logger', () => {
  let dir: string | undefined;
  afterEach(() => {
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  it('never writes a secret, wherever it sits in a log line', async () => {
    dir = mkdtempSync(join(tmpdir(), 'sloth-logger-'));
    const file = join(dir, 'log.jsonl');
    const logger = createLogger({ name: 'test', destination: file });
    logger.info(
      {
        token: 'secret-token-1',
        config: { tokens: ['secret-token-2'], metricsToken: 'secret-token-3', adminToken: 'secret-token-4', webhookUrl: 'https://hooks.example/secret-5' },
        remote: { url: 'https://tsdb.example/api/v1/write', headers: { authorization: 'Bearer secret-6', 'x-scope-orgid': 'tenant' } },
        receiver: { secret: 'secret-7', secrets: ['secret-8'] },
        password: 'secret-9',
      },
      'configured',
    );
    // The destination opens and writes asynchronously: wait (bounded) for the line to land.
    let text = '';
    for (let i = 0; i < 100 && !text.includes('\n'); i += 1) {
      logger.flush();
      await new Promise((resolve) => setTimeout(resolve, 20));
      text = existsSync(file) ? readFileSync(file, 'utf8') : '';
    }
    expect(text).toContain('"msg":"configured"');
    expect(text).toContain('https://tsdb.example/api/v1/write');
    expect(text.match(/secret-?\d|secret-token/g)).toBeNull();
    expect(text.split('[redacted]').length - 1).toBe(9);
  });
});
