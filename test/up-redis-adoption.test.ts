/**
 * Issue 10 item 8 (second point) with the built CLI: `sloth up` does not adopt a Redis it did not
 * start on 127.0.0.1:6379 unless it carries Sloth's marker key (`sloth:marker`); a foreign one is left
 * alone (its keys stay empty) and `sloth up` starts its own redis-server under the data dir.
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
 * Runs inside the namespace: a "foreign" redis-server on 6379 (marked or not), then `sloth up` without
 * REDIS_URL until its banner is out and its roles have written for a while; prints the banner, then the
 * keys of the 6379 server after `up` stopped.
 */
const scenario = `
set -u
ip link set lo up
work="$1"; mark="$2"
redis-server --port 6379 --bind 127.0.0.1 --save '' --appendonly no --dir "$work" --daemonize no >"$work/foreign.log" 2>&1 &
redis=$!
for i in $(seq 1 100); do redis-cli -p 6379 ping >/dev/null 2>&1 && break; sleep 0.1; done
if [ "$mark" = yes ]; then redis-cli -p 6379 set sloth:marker 1 >/dev/null; fi
cd "$work"; mkdir -p playbooks
env -u REDIS_URL "$NODE" "$CLI" up --data-dir "$work/data" --playbooks "$work/playbooks" --interval 1 >"$work/up.out" 2>"$work/up.err" &
up=$!
for i in $(seq 1 1200); do grep -q 'Ctrl-C stops everything' "$work/up.out" && break; kill -0 $up 2>/dev/null || break; sleep 0.1; done
# Let the roles write (agent exports, streams, groups) before looking at the foreign server.
for i in $(seq 1 600); do grep -q '"agent is up"' "$work/up.err" && break; sleep 0.1; done
sleep 3
kill -INT $up; wait $up
echo "up-exit=$?" >>"$work/up.err"
redis-cli -p 6379 keys '*' | sort >"$work/foreign-keys"
redis-cli -p 6379 shutdown nosave >/dev/null 2>&1
wait $redis
`;

interface Outcome { banner: string; stderr: string; foreignKeys: string[] }

describe.skipIf(skipReason !== '')('sloth up and a Redis it did not start on 6379 (private network namespace)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sloth-up-adopt-'));
  const script = join(dir, 'scenario.sh');
  writeFileSync(script, scenario);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const run = (name: string, mark: boolean): Outcome => {
    const work = join(dir, name);
    spawnSync('mkdir', ['-p', work]);
    const result = spawnSync('unshare', ['--net', 'bash', script, work, mark ? 'yes' : 'no'], {
      encoding: 'utf8', timeout: 240_000, env: { ...process.env, NODE: process.execPath, CLI: cliPath },
    });
    const read = (f: string): string => (existsSync(join(work, f)) ? spawnSync('cat', [join(work, f)], { encoding: 'utf8' }).stdout : '');
    if (result.status !== 0) throw new Error(`scenario ${name} failed (${String(result.status)}): ${result.stderr}\n${read('up.out')}\n${read('up.err')}`);
    return { banner: read('up.out'), stderr: read('up.err'), foreignKeys: read('foreign-keys').split('\n').filter((k) => k !== '') };
  };

  it('leaves a foreign (unmarked) Redis on 6379 alone and starts its own under the data dir', () => {
    const work = join(dir, 'foreign');
    const out = run('foreign', false);
    const banner = out.banner;
    expect(banner, out.stderr).toMatch(/Ctrl-C stops everything/);
    const line = /^.*redis\s+(redis:\/\/\S+) \(([^)]*)\).*$/m.exec(banner);
    expect(line, banner).not.toBeNull();
    expect(line![1]).not.toBe('redis://127.0.0.1:6379');
    expect(line![2]).toBe(`started here, AOF in ${join(work, 'data')}/redis`);
    expect(existsSync(join(work, 'data', 'redis'))).toBe(true);
    expect(out.banner + out.stderr).toMatch(/has no \\?"sloth:marker\\?" key, so it is not Sloth's/);
    // Nothing of Sloth's was written to the foreign server.
    expect(out.foreignKeys).toEqual([]);
    expect(out.stderr).toContain('up-exit=0');
  }, 300_000);

  it('adopts a Redis on 6379 that carries the sloth:marker key', () => {
    const work = join(dir, 'marked');
    const out = run('marked', true);
    expect(out.banner, out.stderr).toMatch(/^.*redis\s+redis:\/\/127\.0\.0\.1:6379 \(local\)/m);
    expect(existsSync(join(work, 'data', 'redis'))).toBe(false);
    // The stack writes there (the local agent's export reached it): more than the marker.
    expect(out.foreignKeys).toContain('sloth:marker');
    expect(out.foreignKeys.length).toBeGreaterThan(3);
    expect(out.stderr).toContain('up-exit=0');
  }, 300_000);
});
