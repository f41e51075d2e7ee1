import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ConfigError, loadConfig, SlothError } from '../src/index.js';

const shape = {
  port: z.number().int().min(1).max(65535).default(4318),
  tokens: z.array(z.object({ token: z.string().min(8), agent: z.string() })).default([]),
};

function tempFile(text: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'sloth-config-'));
  const file = join(dir, 'sloth.yaml');
  writeFileSync(file, text);
  return file;
}

describe('loadConfig', () => {
  it('applies defaults, then file, then environment, then flags', () => {
    const file = tempFile('dataDir: /from-file\ncollector:\n  port: 1000\n');
    expect(loadConfig('collector', shape, { file, env: {} }).port).toBe(1000);
    expect(loadConfig('collector', shape, { file, env: { SLOTH_COLLECTOR_PORT: '2000' } }).port).toBe(2000);
    const config = loadConfig('collector', shape, { file, env: { SLOTH_COLLECTOR_PORT: '2000' }, flags: { port: 3000 } });
    expect(config.port).toBe(3000);
    expect(config.dataDir).toBe('/from-file');
    expect(config.redisPrefix).toBe('sloth');
    expect(Object.isFrozen(config)).toBe(true);
  });

  it('reports a YAML syntax error by line and column, never quoting the line (it may hold a token)', () => {
    const file = tempFile('collector:\n  port: 4318\n  tokens: [{ token: "tok-SECRET-123", agent: a }\n');
    let message = '';
    try {
      loadConfig('collector', shape, { file, env: {} });
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toMatch(/^config file \S+ is not valid YAML at line \d+, column \d+: /);
    expect(message).not.toContain('SECRET');
  });

  it('reads common keys from SLOTH_<KEY>', () => {
    const config = loadConfig('collector', shape, { file: tempFile(''), env: { SLOTH_DATA_DIR: '/env-dir', SLOTH_LOG_LEVEL: 'debug' } });
    expect(config.dataDir).toBe('/env-dir');
    expect(config.logLevel).toBe('debug');
  });

  it('reports every problem at once with key, value and source', () => {
    const file = tempFile('bogus: 1\ncollector:\n  port: 70000\n  tokens: [{ token: short, agent: a }]\n  colour: red\n');
    let error: unknown;
    try {
      loadConfig('collector', shape, { file, env: { SLOTH_LOG_LEVEL: 'loud' } });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const problems = (error as ConfigError).problems;
    const keys = problems.map((p) => p.key).sort();
    expect(keys).toEqual(['bogus', 'collector.colour', 'collector.port', 'collector.tokens.0.token', 'logLevel'].sort());
    const port = problems.find((p) => p.key === 'collector.port');
    expect(port?.value).toBe(70000);
    expect(port?.source).toContain('file');
    expect(problems.find((p) => p.key === 'logLevel')?.source).toBe('env SLOTH_LOG_LEVEL');
    expect((error as ConfigError).message).toContain('70000');
    expect((error as ConfigError).code).toBe('SLOTH_ERR_CONFIG');
  });

  it('names a missing explicit file and invalid YAML', () => {
    expect(() => loadConfig('collector', shape, { file: '/nonexistent/sloth.yaml', env: {} })).toThrow(/does not exist/);
    const bad = tempFile('collector: [unclosed\n');
    try {
      loadConfig('collector', shape, { file: bad, env: {} });
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(SlothError);
      expect((e as SlothError).code).toBe('SLOTH_ERR_CONFIG_FILE');
    }
  });
});

describe('REDIS_URL', () => {
  it('is honoured below SLOTH_REDIS_URL and flags', () => {
    const file = tempFile('');
    expect(loadConfig('collector', shape, { file, env: { REDIS_URL: 'redis://a:1' } }).redisUrl).toBe('redis://a:1');
    expect(loadConfig('collector', shape, { file, env: { REDIS_URL: 'redis://a:1', SLOTH_REDIS_URL: 'redis://b:2' } }).redisUrl).toBe('redis://b:2');
    expect(loadConfig('collector', shape, { file, env: { REDIS_URL: 'redis://a:1' }, flags: { redisUrl: 'redis://c:3' } }).redisUrl).toBe('redis://c:3');
  });
});
