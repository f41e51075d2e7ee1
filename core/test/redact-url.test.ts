import { describe, expect, it } from 'vitest';
import { redactUrl } from '../src/index.js';

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
