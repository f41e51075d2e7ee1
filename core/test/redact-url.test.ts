import { describe, expect, it } from 'vitest';
import { ConfigError, redactUrl } from '../src/index.js';

describe('redactUrl', () => {
  it('masks the user name and the password of a URL', () => {
    expect(redactUrl('redis://admin:hunter2-secret@cache.internal:6379/2')).toBe('redis://***:***@cache.internal:6379/2');
    expect(redactUrl('redis://:hunter2-secret@cache.internal:6379')).toBe('redis://:***@cache.internal:6379');
    expect(redactUrl('https://svc-account@vm.example:8428/api/v1/write')).toBe('https://***@vm.example:8428/api/v1/write');
  });

  it('masks query values and drops the fragment (a token may sit in either)', () => {
    expect(redactUrl('https://prom.example/api/v1/write?api_key=k3y-secret&tenant=a#access_token=t0k')).toBe('https://prom.example/api/v1/write?api_key=***&tenant=***');
  });

  it('shows a webhook URL as scheme://host/… only: a Slack webhook carries its token in the path', () => {
    const slack = 'https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX';
    expect(redactUrl(slack, { secretPath: true })).toBe('https://hooks.slack.com/…');
    expect(redactUrl('https://user:pw@hooks.example:8443/', { secretPath: true })).toBe('https://hooks.example:8443');
    expect(redactUrl(`${slack}?x=1`, { secretPath: true })).not.toMatch(/T00000000|B00000000|XXXX/);
  });

  it('leaves a URL without secrets as it is and never shows what does not parse', () => {
    expect(redactUrl('http://127.0.0.1:4318')).toBe('http://127.0.0.1:4318/');
    expect(redactUrl('redis//user:pw@host')).toBe('<invalid url>');
  });
});

describe('a configuration error', () => {
  const problems = [
    { key: 'collector.token', source: 'file', value: 'tok-abcdef-0123456789-secret', message: 'too short' },
    { key: 'redis.url', source: 'env SLOTH_REDIS_URL', value: 'redis://admin:hunter2-secret@cache:6379', message: 'unreachable' },
    { key: 'alerts.receivers.slack.webhook', source: 'file', value: 'https://hooks.slack.com/services/T0/B0/XXXXsecretXXXX', message: 'bad' },
    { key: 'collector.remoteWrite.0', source: 'file', value: { url: 'https://u:pw-secret@vm:8428/api/v1/write', headers: { Authorization: 'Bearer hdr-secret' }, extra: 1 }, message: 'unknown key "extra"' },
    { key: 'collector.port', source: 'flag --port', value: -1, message: 'too small' },
  ];

  it('carries no secret in its message, its details or its JSON form, and still names every key and shows plain values', () => {
    const error = new ConfigError(problems);
    const everything = `${error.message}\n${JSON.stringify(error.details)}\n${JSON.stringify(error)}`;
    for (const secret of ['tok-abcdef', 'hunter2-secret', 'XXXXsecretXXXX', 'pw-secret', 'hdr-secret']) expect(everything).not.toContain(secret);
    for (const p of problems) expect(error.message).toContain(p.key);
    expect(error.message).toContain('collector.port = -1 (flag --port): too small');
    expect(error.message).toContain('https://hooks.slack.com/…');
    expect(error.message).toContain('redis://***:***@cache:6379');
    // The raw values stay on the object for the code that fixes them.
    expect(error.problems[0]?.value).toBe('tok-abcdef-0123456789-secret');
  });
});
