import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisServer } from '@sloth/core';
import { SlothProcess } from './helpers/agent-processes.js';

/**
 * docs/errors.md shows the error bodies a collector answers; this sends each
 * documented request to a real `sloth collector` process (built CLI) and
 * compares status and body with the document, so the two cannot drift apart.
 */

const doc = readFileSync(new URL('../docs/errors.md', import.meta.url), 'utf8');
const token = 'tok-web-1-secret-aaaa';

interface Example {
  readonly method: string;
  readonly path: string;
  readonly credential: string;
  readonly extra: string | undefined;
  readonly status: number;
  readonly body: string;
}

const examples: Example[] = [...doc.matchAll(/^#### `(GET|POST) ([^`]+)` (without a token|with an unknown token|with a token)(?: and (.+?))? → (\d{3})\n(?:(?!#)[^\n]*\n)*?```json\n(.+)\n```$/gm)].map(
  ([, method = '', path = '', credential = '', extra, status = '', body = '']) => ({ method, path, credential, extra, status: Number(status), body }),
);

function requestOf(example: Example): { headers: Record<string, string>; body: string | undefined } {
  const headers: Record<string, string> = {};
  if (example.credential === 'with a token') headers.authorization = `Bearer ${token}`;
  if (example.credential === 'with an unknown token') headers.authorization = 'Bearer not-a-configured-token';
  let body: string | undefined;
  if (example.method === 'POST') {
    headers['content-type'] = 'application/json';
    body = '{}';
  }
  const extra = example.extra;
  if (extra === undefined) return { headers, body };
  const bodyMatch = /^the body `([^`]+)`$/.exec(extra);
  const typeMatch = /^`Content-Type: ([^`]+)`$/.exec(extra);
  if (bodyMatch !== null) body = bodyMatch[1];
  else if (typeMatch !== null) headers['content-type'] = typeMatch[1] as string;
  else throw new Error(`docs/errors.md: example "${example.method} ${example.path}" has a condition this test does not know: "${extra}"`);
  return { headers, body };
}

describe('docs/errors.md against a real collector', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sloth-error-bodies-'));
  let redis: RedisServer;
  let collector: SlothProcess;
  let base = '';

  beforeAll(async () => {
    redis = await RedisServer.start({ dir: join(dir, 'redis'), appendOnly: false });
    const tokens = join(dir, 'tokens');
    writeFileSync(tokens, `${token}:web-1\n`, { mode: 0o600 });
    chmodSync(tokens, 0o600);
    collector = SlothProcess.spawn([
      'collector', '--data-dir', join(dir, 'data'), '--redis-url', redis.url, '--redis-prefix', 'errdoc', '--host', '127.0.0.1',
      '--port', '0', '--metrics-port', '0', '--log-level', 'warn', '--token-file', tokens,
    ]);
    base = (await collector.waitForOutput(/OTLP\/HTTP on (\S+)\/v1\//))[1] as string;
  }, 120_000);

  afterAll(async () => {
    await collector?.stop();
    await redis?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('documents the standard body for 401, 404 and 400 and the OTLP Status for the OTLP routes', () => {
    const statuses = new Set(examples.map((e) => `${e.path.startsWith('/v1/') ? 'otlp' : 'api'} ${e.status}`));
    for (const wanted of ['api 401', 'api 404', 'api 400', 'otlp 401', 'otlp 415']) expect(statuses, wanted).toContain(wanted);
    // Every example heading was understood (none skipped by the pattern).
    expect(examples.length).toBe([...doc.matchAll(/^#### `/gm)].length);
  });

  it('answers every documented request with the documented status and body', async () => {
    for (const example of examples) {
      const { headers, body } = requestOf(example);
      const response = await fetch(`${base}${example.path}`, { method: example.method, headers, ...(body === undefined ? {} : { body }) });
      const label = `${example.method} ${example.path} ${example.credential}${example.extra === undefined ? '' : ` and ${example.extra}`}`;
      expect(response.status, label).toBe(example.status);
      expect(await response.json(), label).toEqual(JSON.parse(example.body));
      if (example.status === 401 && !example.path.startsWith('/v1/')) expect(response.headers.get('www-authenticate'), label).toBe('Bearer realm="sloth-collector"');
    }
  });
});
