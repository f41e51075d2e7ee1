import { describe, expect, it } from 'vitest';
import { jsonSecrets, redactJson, redactText } from '../src/index.js';

describe('redactText', () => {
  it('masks the values of keys that name a secret, in key=value, key: value, JSON and flag form, and keeps the key', () => {
    expect(redactText('password=hunter2 user=bob')).toBe('password=*** user=bob');
    expect(redactText('attempt 1 failed (password=hunter2); retry [token=t-1], user=bob')).toBe('attempt 1 failed (password=***); retry [token=***], user=bob');
    expect(redactText('AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY')).toBe('AWS_SECRET_ACCESS_KEY=***');
    expect(redactText('export DB_PASS="p@ss w0rd"; PGPASSWORD=pg-secret psql')).toBe('export DB_PASS="***"; PGPASSWORD=*** psql');
    expect(redactText('db:\n  passwd: hunter2\n  pwd: hunter3\n  api-key: k-123\n  apiKey: k-456\n  private_key: k-789')).toBe('db:\n  passwd: ***\n  pwd: ***\n  api-key: ***\n  apiKey: ***\n  private_key: ***');
    expect(redactText('X-Auth-Token: t0k3n\nclient_secret = abc\nsession_id=s-1 credentials: c-1 oauth=o-1')).toBe('X-Auth-Token: ***\nclient_secret = ***\nsession_id=*** credentials: *** oauth=***');
    expect(redactText('{"password": "hunter 2", "user": "bob", "apiKey":"k-123", "auth": {"token": \'t-1\'}}')).toBe('{"password": "***", "user": "bob", "apiKey":"***", "auth": {"token": \'***\'}}');
    // JSON inside a JSON string (a log line that logged a body).
    expect(redactText('{"body":"{\\"password\\":\\"hunter2\\",\\"user\\":\\"bob\\"}"}')).toBe('{"body":"{\\"password\\":\\"***\\",\\"user\\":\\"bob\\"}"}');
    expect(redactText('mysql --password hunter2 --user bob --token=t-1 --password -v')).toBe('mysql --password *** --user bob --token=*** --password -v');
    // A quoted value cut off at the end of its line: the rest of the line is the value.
    expect(redactText("password='cut here\nnext line")).toBe("password='***\nnext line");
  });

  it('masks Authorization, Bearer and Basic credentials and cookies, keeping the scheme', () => {
    expect(redactText('> Authorization: Bearer abc123def456\n> Accept: */*')).toBe('> Authorization: Bearer ***\n> Accept: */*');
    expect(redactText('curl -H "Authorization: Basic dXNlcjpwYXNz" https://api.example.com/x')).toBe('curl -H "Authorization: Basic ***" https://api.example.com/x');
    expect(redactText('{"Authorization":"token ghs-123","x":1}')).toBe('{"Authorization":"token ***","x":1}');
    expect(redactText('Authorization=Digest username="bob", response="6629fae4"')).toBe('Authorization=Digest ***');
    expect(redactText('retrying with Bearer eyJ0eXAi.x1 and Basic dXNlcjpwYXNzd29yZA==')).toBe('retrying with Bearer *** and Basic ***');
    expect(redactText('Basic dXNlcjpwYXNz sent; Bearer Authentication is off')).toBe('Basic *** sent; Bearer Authentication is off');
    expect(redactText('token: Bearer abc')).toBe('token: Bearer ***');
    expect(redactText('< Set-Cookie: sid=xyz; Path=/; HttpOnly\n> Cookie: session=abc; theme=dark')).toBe('< Set-Cookie: ***\n> Cookie: ***');
  });

  it('masks URL credentials and query values, and webhook URLs down to their host', () => {
    expect(redactText('connecting to postgres://user:pass@db.internal:5432/app?sslmode=require.')).toBe('connecting to postgres://***:***@db.internal:5432/app?sslmode=***.');
    expect(redactText('redis://:hunter2@cache:6379 (retrying)')).toBe('redis://:***@cache:6379 (retrying)');
    expect(redactText('GET https://api.example.com/v1/items?api_key=k3y&page=2 200')).toBe('GET https://api.example.com/v1/items?api_key=***&page=*** 200');
    expect(redactText('posted to https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX: ok')).toBe('posted to https://hooks.slack.com/…: ok');
    expect(redactText('https://discord.com/api/webhooks/123456/abcDEF-token')).toBe('https://discord.com/…');
    expect(redactText('hook: https://ci.example.com/hooks/8f14e45fceea167a5a36dedd4bea2543')).toBe('hook: https://ci.example.com/…');
    // A URL with nothing to hide keeps its text as written.
    expect(redactText('see https://example.com/docs/page, then http://127.0.0.1:4318')).toBe('see https://example.com/docs/page, then http://127.0.0.1:4318');
  });

  it('masks well-known token shapes and PEM private keys', () => {
    expect(redactText('AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE id ASIAIOSFODNN7EXAMPLE')).toBe('AWS_ACCESS_KEY_ID=*** id ***');
    expect(redactText('cloned with ghp_abcdefghijklmnopqrstuvwxyz0123456789 and github_pat_11ABCDEFG0123456789_abcdefghijklmnop')).toBe('cloned with *** and ***');
    expect(redactText('slack xoxb-1234567890-0987654321-abcdefghij, xapp-1-A0123-456-abcdef')).toBe('slack ***, ***');
    expect(redactText('jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.sig-nature_x issued')).toBe('jwt *** issued');
    expect(redactText('-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA\nabcdef==\n-----END RSA PRIVATE KEY-----\nafter')).toBe(
      '-----BEGIN RSA PRIVATE KEY-----\n***\n-----END RSA PRIVATE KEY-----\nafter',
    );
    // The output's tail starts inside the key: its body above END is masked; the header lines stay.
    expect(redactText('exit code 0\nstdout:\n…IBAAKCAQEAabc\nMIIEowIBAAKCAQEA\n-----END PRIVATE KEY-----\n')).toBe('exit code 0\nstdout:\n***\n-----END PRIVATE KEY-----\n');
    // The END is missing (cut, or never printed): everything after BEGIN is masked.
    expect(redactText('key:\n-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXkt\nmore')).toBe('key:\n-----BEGIN OPENSSH PRIVATE KEY-----\n***');
  });

  it('masks the known secrets given, in the text and URL-encoded, longest first; ignores short ones', () => {
    const known = ['sched-token-0123', 'sched-token-0123-long', 'a+b/c=d-secret', 'short', undefined];
    expect(redactText('tokens sched-token-0123-long and sched-token-0123; q=a%2Bb%2Fc%3Dd-secret; short stays', { knownSecrets: known })).toBe('tokens *** and ***; q=***; short stays');
  });

  it('leaves ordinary words alone: author, tokenizer output, token counts, working directories, paths to secrets', () => {
    const plain = [
      'author: Jane Doe',
      'tokenizer output: 3 tokens',
      'max_tokens=512 tokens: 3',
      'authority=ca.internal authentication failed for user bob',
      'PWD=/srv/app OLDPWD=/home/bob',
      'TOKEN_FILE=/run/secrets/t token_type=bearer session_count: 4',
      'Bearer authentication required (WWW-Authenticate: Bearer realm="api")',
      'Auth::verify() at https://auth.example.com:443/login',
      'pass: 12 fail: 0',
      'keyword=value monkey: banana passenger=1',
      'exit code 0\nstdout:\nhello',
    ];
    for (const text of plain) expect(redactText(text)).toBe(text);
  });

  it('is idempotent', () => {
    const fragments = [
      'password=hunter2', 'Authorization: Bearer abc123def', '"apiKey": "k-1"', 'postgres://u:p@h/db?x=1', 'https://hooks.slack.com/services/T/B/X',
      'AKIAIOSFODNN7EXAMPLE', 'eyJhbGciOi.eyJzdWIiOi.sig', '-----BEGIN PRIVATE KEY-----', '-----END PRIVATE KEY-----', 'MIIEowIBAAKCAQEA', '…abc',
      'Cookie: a=b', '--token', 'x', ' ', '\n', '"', "'", '\\"', '=', ': ', 'known-secret-1', 'token:', 'Bearer', 'abcdefgh12',
    ];
    // A deterministic pseudo-random mix of fragments.
    let seed = 7;
    const next = (): number => {
      seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
      return seed;
    };
    const separators = ['', ' ', '\n', ', '];
    for (let i = 0; i < 1000; i += 1) {
      // Run together (`sigpassword=`, `"k-1" : "`) fragments make other words; one a line, none of their secrets may show.
      const separator = separators[i % separators.length] ?? '';
      const text = Array.from({ length: 1 + (next() % 12) }, () => fragments[next() % fragments.length]).join(separator);
      const once = redactText(text, { knownSecrets: ['known-secret-1'] });
      expect(redactText(once, { knownSecrets: ['known-secret-1'] }), JSON.stringify(text)).toBe(once);
      if (separator !== '\n') continue;
      for (const secret of ['hunter2', 'known-secret-1', 'abc123def', 'k-1', 'AKIA', 'eyJ', 'u:p@', 'services/T']) expect(once, JSON.stringify(text)).not.toContain(secret);
    }
  });

  // A regular expression that backtracks catastrophically takes minutes on 100 KB: the test would time out.
  it('returns on 100 KB of hostile near-miss text of every pattern (no catastrophic backtracking)', () => {
    const kb100 = (unit: string): string => unit.repeat(Math.ceil(100_000 / unit.length)).slice(0, 100_000);
    const hostile = [
      'a', 'password ', 'password=a ', 'password="', 'password=\\"', 'Authorization: x ', '"Authorization: ', '-', '-----BEGIN PRIVATE KEY-----',
      '-----END PRIVATE KEY-----\n', 'AAAA\n', `-----BEGIN ${'A '.repeat(40)}`, 'a://', 'https://x/?', 'a+.-', 'eyJ-', 'eyJaa.eyJaa', 'ghp_', 'xoxb-', 'AKIA',
      'Bearer        ', 'Bearer abcdefg ', '1234567:', '1234567890123:a-', 'a.b-c_d', 'aB', '--token -', 'token  :', 'x=password:token="a\\" b\'c eyJ.ghp_ https://u:p@h/?a -----BEGIN ',
    ].map(kb100);
    hostile.push(`password${' '.repeat(100_000)}x`, `http://x${'.'.repeat(100_000)}a`, `password=${')'.repeat(100_000)}`, `password=${'(,'.repeat(50_000)}`);
    for (const text of hostile) {
      const shown = redactText(text, { knownSecrets: ['abcdefgh'] });
      expect(redactText(shown, { knownSecrets: ['abcdefgh'] })).toBe(shown);
    }
  }, 60_000);
});

describe('redactJson', () => {
  const webhook = 'https://hooks.slack.com/services/T0SECRET1/B0SECRET2/abcdefghijklmnopqrstuvwx';
  const params = {
    webhook_url: webhook,
    url: 'https://ci.example.com/hooks/8f14e45fceea167a5a36dedd4bea2543',
    api_token: 'tok-live-7f3a9c2e5b1d',
    db: { password: 12345, user: 'app', dsn: 'postgres://app:pg-pass-42@db:5432/app' },
    headers: ['Authorization: Bearer abcdef123456'],
    unit: 'nginx',
    replicas: 3,
    token_file: '/etc/sloth/token',
    empty_secret: '',
  };

  it('masks secret-named values whatever their type, hook URLs to their host, URL credentials, and keeps the rest', () => {
    expect(redactJson(params)).toEqual({
      webhook_url: 'https://hooks.slack.com/…',
      url: 'https://ci.example.com/…',
      api_token: '***',
      db: { password: '***', user: 'app', dsn: 'postgres://***:***@db:5432/app' },
      headers: ['Authorization: Bearer ***'],
      unit: 'nginx',
      replicas: 3,
      token_file: '/etc/sloth/token',
      empty_secret: '',
    });
    expect(redactJson(redactJson(params))).toEqual(redactJson(params));
    const cyclic: Record<string, unknown> = { a: 1 };
    cyclic.self = cyclic;
    expect(JSON.stringify(redactJson(cyclic))).toContain('"***"');
  });

  it('names the values it masks, so free text quoting them is masked too', () => {
    const known = jsonSecrets(params);
    expect(known).toEqual(expect.arrayContaining([webhook, '/services/T0SECRET1/B0SECRET2/abcdefghijklmnopqrstuvwx', 'tok-live-7f3a9c2e5b1d', '12345', 'pg-pass-42']));
    expect(known).not.toContain('nginx');
    expect(known).not.toContain('');
    expect(redactText('posting /services/T0SECRET1/B0SECRET2/abcdefghijklmnopqrstuvwx with tok-live-7f3a9c2e5b1d', { paramSecrets: known })).toBe('posting *** with ***');
  });
});

describe('masking of the shapes a security review found', () => {
  const telegram = 'https://api.telegram.org/bot123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw/sendMessage';
  const params = {
    env: [{ name: 'DB_PASSWORD', value: 'Sup3rS3cretValue!' }, { name: 'LOG_LEVEL', value: 'debug' }],
    vars: [{ key: 'API_TOKEN', value: 'plainsecretvalue0000' }],
    tokens: ['plainsecretvalue0001'],
    api_keys: { primary: 'plainsecretvalue0002' },
    apiKeys: ['plainsecretvalue0003'],
    secrets: ['plainsecretvalue0008'],
    passwords: ['plainsecretvalue0009'],
    access_key: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY',
    secret_key: 'plainsecretvalue0010',
    accessKey: 'plainsecretvalue0011',
    passWord: 'plainsecretvalue0004',
    notify: telegram,
    max_tokens: 512,
  };

  it('redactJson masks name/value lists, plural and two-word keys, camelCase passWord and Telegram bot URLs', () => {
    expect(redactJson(params)).toEqual({
      env: [{ name: 'DB_PASSWORD', value: '***' }, { name: 'LOG_LEVEL', value: 'debug' }],
      vars: [{ key: 'API_TOKEN', value: '***' }],
      tokens: '***',
      api_keys: '***',
      apiKeys: '***',
      secrets: '***',
      passwords: '***',
      access_key: '***',
      secret_key: '***',
      accessKey: '***',
      passWord: '***',
      notify: 'https://api.telegram.org/…',
      max_tokens: 512,
    });
    expect(redactText(`sent via ${telegram}; token 123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw`)).toBe('sent via https://api.telegram.org/…; token ***');
    expect(redactText('passWord=abc accessKey: k-1 api_keys=k-2')).toBe('passWord=*** accessKey: *** api_keys=***');
  });

  it('jsonSecrets collects those values, so free text quoting them is masked', () => {
    const known = jsonSecrets(params);
    const values = ['Sup3rS3cretValue!', 'plainsecretvalue0000', 'plainsecretvalue0001', 'plainsecretvalue0002', 'plainsecretvalue0003', 'plainsecretvalue0004', 'plainsecretvalue0008', 'plainsecretvalue0009', 'plainsecretvalue0010', 'plainsecretvalue0011', 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY'];
    expect(known).toEqual(expect.arrayContaining([...values, '123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw']));
    expect(known).not.toContain('debug');
    expect(known).not.toContain('512');
    expect(redactText(`got ${values.join(' ')} for bot 123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw`, { paramSecrets: known })).toBe(`got ${values.map(() => '***').join(' ')} for bot ***`);
  });

  it('masks short param secrets from 4 characters (numbers too) as whole words, not 1 to 3 characters, and not configured secrets under 8', () => {
    const known = jsonSecrets({ password: 'hunter2', pin: 1234, db: { pwd: 'abc' }, auth: 'none' });
    expect(redactText('connecting with hunter2; pin is 1234; took 12345ms; abc stays; none given', { paramSecrets: known })).toBe('connecting with ***; pin is ***; took 12345ms; abc stays; none given');
    // As configured secrets (knownSecrets), the 8-character minimum of tokens applies.
    expect(redactText('connecting with hunter2', { knownSecrets: [...known] })).toBe('connecting with hunter2');
  });

  it('masks the base64 and hex forms of known secrets of 8 characters or more', () => {
    const secret = 'plainsecretvalue0004';
    const b64 = Buffer.from(secret).toString('base64');
    const text = `b64 ${b64} raw ${b64.replace(/=+$/, '')} url ${Buffer.from(secret).toString('base64url')} hex ${Buffer.from(secret).toString('hex')} HEX ${Buffer.from(secret).toString('hex').toUpperCase()}`;
    expect(redactText(text, { knownSecrets: [secret] })).toBe('b64 *** raw *** url *** hex *** HEX ***');
  });

  it('does not make known secrets of non-secret URL paths and queries', () => {
    const known = jsonSecrets({ url: 'http://user:pg-pass-42@svc:8080/api/v1/items?page=2', target: 'http://svc/health?verbose=1', cmd: 'deploy --token ghp_abcdefghijklmnopqrstuvwxyz0123456789' });
    expect(known.sort()).toEqual(['ghp_abcdefghijklmnopqrstuvwxyz0123456789', 'pg-pass-42']);
    expect(redactText('GET /api/v1/items?page=2 returned 200; probe /health?verbose=1 ok', { paramSecrets: known })).toBe('GET /api/v1/items?page=2 returned 200; probe /health?verbose=1 ok');
  });

  it('keeps status words after a secret key, and masks every other value', () => {
    for (const text of ['Password: incorrect for user bob', 'auth: ok', 'Session: started for bob', 'token=expired.', '{"password": "invalid"}']) expect(redactText(text)).toBe(text);
    expect(redactText('Password: incorrect1 auth: okay-token Session: s-42 token=expired-at-3')).toBe('Password: *** auth: *** Session: *** token=***');
  });
});
