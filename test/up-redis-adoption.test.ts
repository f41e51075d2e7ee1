/**
 * Issue 10 item 8 (second point) with the built CLI: `sloth up` does not adopt a Redis it did not
 * start on 127.0.0.1:6379 unless it demands the password of the data dir (`<data-dir>/redis/
 * sloth-redis.password`), accepts it and carries Sloth's marker key (`sloth:marker`). A Redis any local
 * user could have started there (no password, marked or not) is left alone (its keys stay as they were)
 * and `sloth up` starts its own redis-server under the data dir, which refuses clients without the password.
 *
 * The machine's own 6379 is never touched: each scenario runs in a private network namespace
 * (`unshare --net`, loopback brought up inside), where the test starts its own redis-server on 6379.
 * That needs root; without it (or when unshare fails) the test is skipped with a message.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cliPath } from './helpers/agent-processes.js';

const root = process.getuid?.() === 0;
const probe = root ? spawnSync('unshare', ['--net', 'sh', '-c', 'ip link set lo up && ip -o addr show lo'], { encoding: 'utf8' }) : undefined;
const namespaces = probe !== undefined && probe.status === 0 && probe.stdout.includes('127.0.0.1');
const skipReason = !root ? 'not root' : !namespaces ? `unshare --net failed: ${probe?.stderr.trim() ?? ''}` : '';
if (skipReason !== '') console.warn(`up-redis-adoption: skipped (${skipReason}); it needs a private network namespace so the machine's 6379 is never touched`);

/**
 * Runs inside the namespace: a "foreign" redis-server on 6379 (marked or not; with the data dir's
 * password made beforehand, as a user sharing their Redis with `sloth up` would, or without one), then
 * `sloth up` without REDIS_URL until its banner is out and its roles have written for a while; asks the
 * Redis `sloth up` uses for PING without and with the password; prints the banner, then the keys of the
 * 6379 server after `up` stopped.
 */
const scenario = `
set -u
ip link set lo up
work="$1"; mark="$2"; auth="$3"
pwfile="$work/data/redis/sloth-redis.password"
if [ "$auth" = yes ]; then
  mkdir -p -m 700 "$work/data" "$work/data/redis"
  (umask 077; head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \\n' >"$pwfile")
  export REDISCLI_AUTH="$(cat "$pwfile")"
fi
# The password reaches the foreign server on stdin, as sloth up gives its own: never in ps.
{ if [ "$auth" = yes ]; then echo "requirepass $REDISCLI_AUTH"; fi; } | redis-server - --port 6379 --bind 127.0.0.1 --save '' --appendonly no --dir "$work" --daemonize no >"$work/foreign.log" 2>&1 &
redis=$!
for i in $(seq 1 100); do redis-cli -p 6379 ping 2>/dev/null | grep -q PONG && break; sleep 0.1; done
if [ "$mark" = yes ]; then redis-cli -p 6379 set sloth:marker 1 >/dev/null; fi
cd "$work"; mkdir -p playbooks
env -u REDIS_URL -u REDISCLI_AUTH "$NODE" "$CLI" up --data-dir "$work/data" --playbooks "$work/playbooks" --interval 1 >"$work/up.out" 2>"$work/up.err" &
up=$!
for i in $(seq 1 1200); do grep -q 'Ctrl-C stops everything' "$work/up.out" && break; kill -0 $up 2>/dev/null || break; sleep 0.1; done
# Let the roles write (agent exports, streams, groups) before looking at the foreign server.
for i in $(seq 1 600); do grep -q '"agent is up"' "$work/up.err" && break; sleep 0.1; done
sleep 3
# The Redis sloth up uses, asked without the password and with the one in the data dir.
port=$(sed -n 's/^ *redis *redis:[^ ]*:\\([0-9]*\\) .*/\\1/p' "$work/up.out" | head -n 1)
env -u REDISCLI_AUTH redis-cli -p "$port" ping >"$work/ping-without" 2>&1
REDISCLI_AUTH="$(cat "$pwfile")" redis-cli -p "$port" ping >"$work/ping-with" 2>&1
kill -INT $up; wait $up
echo "up-exit=$?" >>"$work/up.err"
redis-cli -p 6379 keys '*' | sort >"$work/foreign-keys"
redis-cli -p 6379 shutdown nosave >/dev/null 2>&1
wait $redis
`;

interface Outcome { banner: string; stderr: string; foreignKeys: string[]; pingWithout: string; pingWith: string; password: string }

describe.skipIf(skipReason !== '')('sloth up and a Redis it did not start on 6379 (private network namespace)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sloth-up-adopt-'));
  const script = join(dir, 'scenario.sh');
  writeFileSync(script, scenario);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const run = (name: string, mark: boolean, auth = false): Outcome => {
    const work = join(dir, name);
    spawnSync('mkdir', ['-p', work]);
    const result = spawnSync('unshare', ['--net', 'bash', script, work, mark ? 'yes' : 'no', auth ? 'yes' : 'no'], {
      encoding: 'utf8', timeout: 240_000, env: { ...process.env, NODE: process.execPath, CLI: cliPath },
    });
    const read = (f: string): string => (existsSync(join(work, f)) ? spawnSync('cat', [join(work, f)], { encoding: 'utf8' }).stdout : '');
    if (result.status !== 0) throw new Error(`scenario ${name} failed (${String(result.status)}): ${result.stderr}\n${read('up.out')}\n${read('up.err')}`);
    return {
      banner: read('up.out'), stderr: read('up.err'), foreignKeys: read('foreign-keys').split('\n').filter((k) => k !== ''),
      pingWithout: read('ping-without').trim(), pingWith: read('ping-with').trim(), password: read(join('data', 'redis', 'sloth-redis.password')).trim(),
    };
  };

  /** The checks every scenario where `sloth up` starts its own redis-server shares. */
  const expectOwnGuardedServer = (work: string, out: Outcome): void => {
    expect(out.banner, out.stderr).toMatch(/Ctrl-C stops everything/);
    const line = /^.*redis\s+(redis:\/\/\S+) \(([^)]*)\).*$/m.exec(out.banner);
    expect(line, out.banner).not.toBeNull();
    expect(line![1]).toMatch(/^redis:\/\/:\*\*\*@127\.0\.0\.1:\d+$/);
    expect(line![1]).not.toContain(':6379');
    expect(line![2]).toBe(`started here, AOF in ${join(work, 'data')}/redis, password in ${join(work, 'data')}/redis/sloth-redis.password`);
    // Its server refuses a client without the password; the password is in the data dir and was never printed.
    expect(out.password).toMatch(/^[0-9a-f]{64}$/);
    expect(out.pingWithout).toMatch(/NOAUTH/);
    expect(out.pingWith).toBe('PONG');
    expect(out.banner + out.stderr).not.toContain(out.password);
    expect(out.stderr).toContain('up-exit=0');
  };

  it('leaves a foreign (unmarked) Redis on 6379 alone and starts its own, password-guarded, under the data dir', () => {
    const work = join(dir, 'foreign');
    const out = run('foreign', false);
    expectOwnGuardedServer(work, out);
    expect(out.banner + out.stderr).toMatch(/answers without a password \(any local user could have started it\), so it is not Sloth's/);
    // Nothing of Sloth's was written to the foreign server.
    expect(out.foreignKeys).toEqual([]);
  }, 300_000);

  it('does not adopt a marked Redis on 6379 without a password (any local user could have started it)', () => {
    const work = join(dir, 'marked-open');
    const out = run('marked-open', true);
    expectOwnGuardedServer(work, out);
    expect(out.banner + out.stderr).toMatch(/answers without a password \(any local user could have started it\), so it is not Sloth's/);
    expect(out.foreignKeys).toEqual(['sloth:marker']);
  }, 300_000);

  it("adopts a marked Redis on 6379 that demands the data dir's password", () => {
    const out = run('marked-guarded', true, true);
    expect(out.banner, out.stderr).toMatch(/^.*redis\s+redis:\/\/:\*\*\*@127\.0\.0\.1:6379 \(local, password in \S+sloth-redis\.password\)/m);
    expect(out.banner + out.stderr).not.toContain(out.password);
    // No server of its own (no AOF), and the stack writes to the adopted one (the local agent's export reached it): more than the marker.
    expect(existsSync(join(dir, 'marked-guarded', 'data', 'redis', 'appendonlydir'))).toBe(false);
    expect(out.pingWithout).toMatch(/NOAUTH/);
    expect(out.pingWith).toBe('PONG');
    expect(out.foreignKeys).toContain('sloth:marker');
    expect(out.foreignKeys.length).toBeGreaterThan(3);
    expect(out.stderr).toContain('up-exit=0');
  }, 300_000);
});
