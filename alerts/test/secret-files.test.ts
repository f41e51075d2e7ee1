import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, createLogger, freePort, RedisServer, sleep } from '@sloth/core';
import { AlertsService, loadAlertsConfig, loadAlertsFile, parseAlertsFile, testRoutes, verifySignature, type AlertsFile } from '../src/index.js';
import { RulesWatcher } from '../src/rules-watcher.js';
import { StandIn } from './stand-ins.js';

const slackUrl = 'https://hooks.slack.com/services/T000/B000/FILESLACKSECRET';
const botToken = 'xoxb-file-bot-token-0123';
const hookUrl = 'https://hooks.example/sloth?key=FILEURLSECRET';
const signingA = `whsec_${Buffer.from('file-signing-secret-A-0123').toString('base64')}`;
const signingB = `whsec_${Buffer.from('file-signing-secret-B-4567').toString('base64')}`;
const everySecret = [slackUrl, botToken, hookUrl, signingA, signingB, 'FILESLACKSECRET', 'FILEURLSECRET'];

/** A secret file as an operator writes it: mode 0600, a trailing newline. */
function secretFile(path: string, text: string, mode = 0o600): string {
  writeFileSync(path, `${text}\n`, { mode });
  chmodSync(path, mode);
  return path;
}

function problemsOf(run: () => unknown): string[] {
  try {
    run();
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    return error.problems.map((p) => `${p.key}: ${p.message}`);
  }
  throw new Error('expected a ConfigError');
}

function messageOf(run: () => unknown): string {
  try {
    run();
  } catch (error) {
    return (error as Error).message;
  }
  throw new Error('expected an error');
}

const receivers = (integrations: string): string => `route: { receiver: team }
receivers:
  - name: team
${integrations}`;

async function until<T>(what: string, probe: () => Promise<T | undefined> | T | undefined, waitMillis = 20_000): Promise<T> {
  const deadline = Date.now() + waitMillis;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

describe('receiver secrets from files (`<field>_file`)', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'sloth-alerts-secrets-'));
    mkdirSync(join(dir, 'secrets'));
    secretFile(join(dir, 'secrets', 'slack-url'), slackUrl);
    secretFile(join(dir, 'secrets', 'bot-token'), botToken);
    secretFile(join(dir, 'secrets', 'hook-url'), hookUrl);
    // Two secrets while rotating, one per line; comments and blank lines are skipped.
    secretFile(join(dir, 'secrets', 'signing'), `# rotation: new first\n${signingB}\n\n${signingA}`);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('reads webhook_url_file, bot_token_file, url_file and secrets_file, trimmed, relative to the alerts file', () => {
    const file = parseAlertsFile(
      receivers(`    slack:
      - { webhook_url_file: secrets/slack-url }
      - { bot_token_file: ${join(dir, 'secrets', 'bot-token')}, channel: "#ops" }
    webhook: [{ url_file: secrets/hook-url, secrets_file: secrets/signing }]
`),
      join(dir, 'alerts.yaml'),
    );
    const team = file.receivers.get('team');
    expect(team?.slack?.map((s) => [s.webhook_url, s.bot_token])).toEqual([
      [slackUrl, undefined],
      [undefined, botToken],
    ]);
    expect(team?.webhook?.map((w) => [w.url, w.secrets])).toEqual([[hookUrl, [signingB, signingA]]]);
    expect(team?.slack?.[0]).not.toHaveProperty('webhook_url_file');
    expect([...file.secretFiles].sort()).toEqual(['bot-token', 'hook-url', 'signing', 'slack-url'].map((name) => join(dir, 'secrets', name)));
  });

  it('refuses a field given both inline and as a file, and a field given neither way, naming both keys', () => {
    const both = problemsOf(() =>
      parseAlertsFile(
        receivers(`    slack:
      - { webhook_url: "${slackUrl}", webhook_url_file: secrets/slack-url }
      - { bot_token: "${botToken}", bot_token_file: secrets/bot-token, channel: "#ops" }
    webhook: [{ url: "${hookUrl}", url_file: secrets/hook-url, secrets: ["${signingA}"], secrets_file: secrets/signing }]
`),
        join(dir, 'alerts.yaml'),
      ),
    );
    expect(both).toEqual(
      expect.arrayContaining([
        'receivers[0] (team).slack[0].webhook_url: give webhook_url or webhook_url_file, not both',
        'receivers[0] (team).slack[1].bot_token: give bot_token or bot_token_file, not both',
        'receivers[0] (team).webhook[0].url: give url or url_file, not both',
        'receivers[0] (team).webhook[0].secrets: give secrets or secrets_file, not both',
      ]),
    );
    const neither = problemsOf(() => parseAlertsFile(receivers('    slack: [{ channel: "#ops" }]\n    webhook: [{ send_resolved: false }]\n'), join(dir, 'alerts.yaml')));
    expect(neither).toEqual(
      expect.arrayContaining([
        'receivers[0] (team).slack[0]: set exactly one of webhook_url or webhook_url_file (incoming webhook), or bot_token or bot_token_file (with channel)',
        'receivers[0] (team).webhook[0].url: set url or url_file (a file holding it)',
        'receivers[0] (team).webhook[0].secrets: set secrets (one or two signing secrets) or secrets_file (a file holding it)',
      ]),
    );
    // The error text shows no secret, and no "(secret, not shown)" for a value that is absent.
    const text = messageOf(() => parseAlertsFile(receivers('    webhook: [{ send_resolved: false }]\n'), 'a.yaml'));
    expect(text).toContain('  - receivers[0] (team).webhook[0].url (a.yaml): set url or url_file');
    for (const secret of everySecret) expect(messageOf(() => parseAlertsFile(receivers(`    slack: [{ webhook_url: "${slackUrl}", webhook_url_file: x }]\n`), 'a.yaml'))).not.toContain(secret);
  });

  it('refuses a group- or other-readable file, a FIFO, a directory and a missing file, naming the path and the field, never the content', () => {
    const key = 'receivers[0] (team).webhook[0].secrets_file';
    const cases: Array<[string, string, RegExp]> = [
      ['group-readable', secretFile(join(dir, 'group-readable'), signingA, 0o640), /is readable by other users \(mode 0640\); run: chmod 600 /],
      ['other-readable', secretFile(join(dir, 'other-readable'), signingA, 0o604), /is readable by other users \(mode 0604\)/],
      ['fifo', join(dir, 'fifo'), /is not a regular file \(a FIFO\)/],
      ['directory', join(dir, 'secrets'), /is not a regular file \(a directory\)/],
      ['missing', join(dir, 'missing'), /does not exist/],
    ];
    execFileSync('mkfifo', ['-m', '600', join(dir, 'fifo')]);
    for (const [name, path, reason] of cases) {
      const yaml = receivers(`    webhook: [{ url: "https://hooks.example/x", secrets_file: ${path} }]\n`);
      const problems = problemsOf(() => parseAlertsFile(yaml, join(dir, 'alerts.yaml')));
      expect(problems, name).toHaveLength(1);
      expect(problems[0], name).toContain(`${key}: cannot use the secret file: ${path} `);
      expect(problems[0], name).toMatch(reason);
      const message = messageOf(() => parseAlertsFile(yaml, join(dir, 'alerts.yaml')));
      expect(message, name).toContain(path);
      expect(message, name).not.toContain(signingA);
    }
  });

  it('refuses a file whose content is not what the field needs, without showing the content', () => {
    secretFile(join(dir, 'not-a-url'), 'FILEURLSECRET-not-a-url');
    secretFile(join(dir, 'three-secrets'), `${signingA}\n${signingB}\n${signingA}`);
    secretFile(join(dir, 'short-token'), 'xoxb');
    secretFile(join(dir, 'empty'), '  ');
    const message = messageOf(() =>
      parseAlertsFile(
        receivers(`    slack:
      - { webhook_url_file: not-a-url }
      - { bot_token_file: short-token, channel: "#ops" }
      - { webhook_url_file: empty }
    webhook: [{ url_file: not-a-url, secrets_file: three-secrets }]
`),
        join(dir, 'alerts.yaml'),
      ),
    );
    expect(message).toContain(`receivers[0] (team).slack[0].webhook_url_file (${join(dir, 'alerts.yaml')}): the content of ${join(dir, 'not-a-url')} is not a URL (the content is not shown)`);
    expect(message).toContain(`receivers[0] (team).slack[1].bot_token_file (${join(dir, 'alerts.yaml')}): the content of ${join(dir, 'short-token')} is shorter than 8 characters`);
    expect(message).toContain(`receivers[0] (team).slack[2].webhook_url_file (${join(dir, 'alerts.yaml')}): cannot use the secret file: ${join(dir, 'empty')} is empty`);
    expect(message).toContain(`the content of ${join(dir, 'three-secrets')} holds 3 secrets; put one or two`);
    for (const secret of ['FILEURLSECRET', 'xoxb\n', signingA, signingB]) expect(message).not.toContain(secret);
  });

  describe('hot reload', () => {
    let watcher: RulesWatcher | undefined;
    afterEach(() => watcher?.shutdown());

    it('reads the files again at every reload, and reloads when a secret file changes, even in another directory', async () => {
      const rulesDir = join(dir, 'reload');
      mkdirSync(rulesDir);
      const signing = secretFile(join(dir, 'secrets', 'reload-signing'), signingA);
      const path = join(rulesDir, 'alerts.yaml');
      writeFileSync(path, receivers(`    webhook: [{ url_file: ../secrets/hook-url, secrets_file: ${signing} }]\n`));
      const first = loadAlertsFile(path);
      const applied: AlertsFile[] = [];
      const logFile = join(dir, 'reload.log');
      watcher = new RulesWatcher({ path, apply: (f) => applied.push(f), logger: createLogger({ name: 'alerts', level: 'info', destination: logFile }), debounceMillis: 50, secretFiles: first.secretFiles });
      watcher.start();
      expect(first.receivers.get('team')?.webhook?.[0]?.secrets).toEqual([signingA]);

      // Rotation: write the new file beside it and rename it over the old one, as an operator (or Kubernetes) does.
      secretFile(`${signing}.new`, `${signingB}\n${signingA}`);
      renameSync(`${signing}.new`, signing);
      await until('the reload after the secret file changed', () => (applied.length >= 1 ? true : undefined));
      expect(applied.at(-1)?.receivers.get('team')?.webhook?.[0]?.secrets).toEqual([signingB, signingA]);

      // A secret file that became readable by others is refused at the reload; the previous secrets stay.
      const count = applied.length;
      chmodSync(signing, 0o644);
      await until('the refused reload', () => watcher?.lastError);
      expect(watcher.lastError).toContain(`receivers[0] (team).webhook[0].secrets_file`);
      expect(watcher.lastError).toContain(`${signing} is readable by other users (mode 0644)`);
      expect(applied).toHaveLength(count);

      chmodSync(signing, 0o600);
      expect(watcher.reload()).toBe(true);
      expect(watcher.lastError).toBeUndefined();
      const log = existsSync(logFile) ? readFileSync(logFile, 'utf8') : '';
      expect(log).toContain('alerts file not reloaded');
      for (const secret of everySecret) expect(log).not.toContain(secret);
    });
  });
});

describe('a running alerts role with its secrets in files', () => {
  const hook = new StandIn();
  const token = 'alerts-file-token-0123456789';
  let dir: string;
  let redis: RedisServer;
  let service: AlertsService | undefined;
  let logFile: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'sloth-alerts-secrets-role-'));
    redis = await RedisServer.start({ dir: join(dir, 'redis'), appendOnly: false });
    await hook.start();
  }, 60_000);
  afterAll(async () => {
    await service?.shutdown();
    await hook.stop();
    await redis?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('delivers with the URLs and secrets from the files, picks up a rotated file, and shows none of them in logs, the API, reload errors or routes test', async () => {
    const slackPath = (n: number): string => `/slack/T000/B000/FILESLACKSECRET${n}`;
    secretFile(join(dir, 'slack-url'), `${hook.url}${slackPath(1)}`);
    secretFile(join(dir, 'hook-url'), `${hook.url}/hook?key=FILEURLSECRET`);
    const signing = secretFile(join(dir, 'signing'), signingA);
    secretFile(join(dir, 'token-file'), `${token}:ops`);
    const rules = join(dir, 'alerts.yaml');
    writeFileSync(
      rules,
      `evaluation_interval: 1s
route: { receiver: team, group_by: [alertname, agent], group_wait: 0s, group_interval: 1s, repeat_interval: 4h }
receivers:
  - name: team
    slack: [{ webhook_url_file: slack-url }]
    webhook: [{ url_file: hook-url, secrets_file: signing }]
`,
    );
    logFile = join(dir, 'alerts.log');
    const config = loadAlertsConfig({ env: {}, flags: { dataDir: dir, redisPrefix: 'secretfiles', port: await freePort(), metricsPort: 0, host: '127.0.0.1', tokenFile: join(dir, 'token-file'), rules, collectorUrl: 'http://127.0.0.1:9' } });
    service = new AlertsService({ config, redisUrl: redis.url, tickMillis: 100, logger: createLogger({ name: 'alerts', level: 'debug', destination: logFile }) });
    await service.start();
    const api = service.listening?.url ?? '';
    const fire = async (agent: string): Promise<void> => {
      const response = await fetch(`${api}/api/v1/intake/alertmanager`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        body: JSON.stringify({ version: '4', status: 'firing', alerts: [{ status: 'firing', labels: { alertname: 'DiskFull', agent }, annotations: {}, startsAt: new Date().toISOString() }] }),
      });
      expect(response.status).toBe(200);
    };

    await fire('db-1');
    const first = await until('the first webhook', () => hook.requests.find((r) => r.path === '/hook'));
    expect(verifySignature([signingA], first.headers as Record<string, string>, first.body)).toEqual({ ok: true });
    await until('the first Slack message', () => hook.requests.find((r) => r.path === slackPath(1)));

    // Rotate both: the role reloads on the secret files' change and uses the new ones.
    secretFile(`${signing}.new`, signingB);
    renameSync(`${signing}.new`, signing);
    secretFile(join(dir, 'slack-url.new'), `${hook.url}${slackPath(2)}`);
    renameSync(join(dir, 'slack-url.new'), join(dir, 'slack-url'));
    const rulesView = async (): Promise<{ reloads: number; lastReloadError: string | null; receivers: string[] }> =>
      (await (await fetch(`${api}/api/v1/rules`, { headers: { authorization: `Bearer ${token}` } })).json()) as { reloads: number; lastReloadError: string | null; receivers: string[] };
    await until('the reload', async () => (service?.engine?.alertsFile.receivers.get('team')?.slack?.[0]?.webhook_url?.endsWith(slackPath(2)) === true && service.engine.alertsFile.receivers.get('team')?.webhook?.[0]?.secrets[0] === signingB ? true : undefined));
    await fire('db-2');
    const second = await until('the second webhook', () => hook.requests.filter((r) => r.path === '/hook').at(1));
    expect(verifySignature([signingB], second.headers as Record<string, string>, second.body)).toEqual({ ok: true });
    expect(verifySignature([signingA], second.headers as Record<string, string>, second.body)).toMatchObject({ ok: false });
    await until('the second Slack message, at the rotated URL', () => hook.requests.find((r) => r.path === slackPath(2)));

    // A secret file others can read: the reload is refused naming it; the role keeps the previous secrets.
    chmodSync(signing, 0o644);
    const refused = await until('the refused reload', async () => (await rulesView()).lastReloadError ?? undefined);
    expect(refused).toContain(`${signing} is readable by other users (mode 0644)`);
    expect(service.engine?.alertsFile.receivers.get('team')?.webhook?.[0]?.secrets).toEqual([signingB]);
    const view = JSON.stringify(await rulesView());
    // What `sloth alerts routes test` prints for the refused file: the path, not the secret.
    const routes = messageOf(() => testRoutes(loadAlertsFile(rules), { alertname: 'DiskFull', agent: 'db-1' }, Date.now()));
    expect(routes).toContain(`receivers[0] (team).webhook[0].secrets_file (${rules}): cannot use the secret file: ${signing} is readable by other users`);
    chmodSync(signing, 0o600);
    const routesOk = JSON.stringify(testRoutes(loadAlertsFile(rules), { alertname: 'DiskFull', agent: 'db-1' }, Date.now()));
    expect(routesOk).toContain('"receiver":"team"');
    const history = JSON.stringify(await (await fetch(`${api}/api/v1/history?limit=50`, { headers: { authorization: `Bearer ${token}` } })).json());
    expect(history).toContain('team/webhook[0]: sent');
    await service.shutdown();
    service = undefined;
    const log = readFileSync(logFile, 'utf8');
    expect(log).toContain('alerts file reloaded');
    for (const text of [view, routes, routesOk, history, log, refused]) {
      for (const secret of [...everySecret, token, hook.url + slackPath(1), slackPath(2)]) expect(text).not.toContain(secret);
    }
  }, 90_000);

  it('refuses a token file readable by others, naming the path and the key', () => {
    const loose = secretFile(join(dir, 'loose-token'), `${token}:ops`, 0o644);
    const message = messageOf(() => loadAlertsConfig({ env: {}, flags: { tokenFile: loose, collectorTokenFile: join(dir, 'no-such-file') } }));
    expect(message).toContain(`alerts.tokenFile (--token-file, alerts.tokenFile or SLOTH_ALERTS_TOKEN_FILE): token file ${loose} is readable by other users (mode 0644)`);
    expect(message).toContain(`alerts.collectorTokenFile (--collector-token-file, alerts.collectorTokenFile or SLOTH_ALERTS_COLLECTOR_TOKEN_FILE): token file ${join(dir, 'no-such-file')} does not exist`);
    expect(message).not.toContain(token);
    const both = messageOf(() => loadAlertsConfig({ env: {}, flags: { collectorToken: 'collector-token-0123', collectorTokenFile: join(dir, 'token-file') } }));
    expect(both).toContain('give collectorToken (--collector-token) or collectorTokenFile (--collector-token-file), not both');
    expect(both).not.toContain('collector-token-0123');
    const fromFile = loadAlertsConfig({ env: { SLOTH_ALERTS_COLLECTOR_TOKEN_FILE: join(dir, 'token-file') }, flags: {} });
    expect(fromFile.collectorToken).toBe(token);
  });
});
