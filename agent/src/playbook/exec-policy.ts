import { mkdtemp, realpath, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { isAbsolute, join, relative, sep } from 'node:path';
import type { ExecPolicy, FsPolicy } from './types.js';

/**
 * Environment keys a playbook may set for any allowed command. They change
 * how a program formats its output, never which code it loads: locale names
 * are checked to be names (glibc loads a locale from a path when the name
 * holds a slash), and TZ may not name a file.
 */
export const defaultExecEnvKeys: readonly string[] = [
  'LANG',
  'LANGUAGE',
  'LC_ALL',
  'LC_COLLATE',
  'LC_CTYPE',
  'LC_MESSAGES',
  'LC_MONETARY',
  'LC_NUMERIC',
  'LC_TIME',
  'TZ',
  'NO_COLOR',
  'COLUMNS',
  'LINES',
  'TERM',
];

/**
 * Keys that turn one program into another: refused even when a host's policy
 * names them, because the allow-list is per command and `ldd`, `git` or `sh`
 * on it would then run whatever the playbook chose. Each group loads or runs
 * code of the caller's choosing:
 */
const neverAllowedKeys: readonly string[] = [
  // the dynamic loader and libc (preloads, gconv/locale modules, allocator hooks, host files)
  'LD_.*', 'DYLD_.*', 'GCONV_PATH', 'LOCPATH', 'NLSPATH', 'HOSTALIASES', 'RESOLV_HOST_CONF', 'MALLOC_.*', 'GLIBC_TUNABLES',
  // shells: start-up files, functions, prompts and traces that expand commands
  'PATH', 'IFS', 'ENV', 'BASH_ENV', 'BASH_FUNC_.*', 'SHELLOPTS', 'BASHOPTS', 'PS[0-4]', 'PROMPT_COMMAND', 'CDPATH', 'ZDOTDIR', 'SHELL',
  // programs a tool starts on its own: pagers (systemctl, git, man run $SYSTEMD_PAGER… when they have a terminal),
  // editors, password prompts, browsers, less's input filters and key files
  '.*PAGER', '.*EDITOR', 'VISUAL', '.*ASKPASS.*', 'BROWSER', 'LESS.*', '.*_LESS',
  // configuration that names code: a home or config directory, terminfo, OpenSSL config/engines/providers
  'HOME', 'XDG_CONFIG_HOME', 'XDG_CONFIG_DIRS', 'XDG_DATA_HOME', 'XDG_DATA_DIRS', 'TERMINFO', 'TERMINFO_DIRS', 'TERMCAP', 'OPENSSL_CONF', 'OPENSSL_ENGINES', 'OPENSSL_MODULES',
  // git: config injection, helper programs, another repository's hooks
  'GIT_CONFIG.*', 'GIT_SSH', 'GIT_SSH_COMMAND', 'GIT_EXEC_PATH', 'GIT_EXTERNAL_DIFF', 'GIT_PROXY_COMMAND', 'GIT_DIR', 'GIT_COMMON_DIR', 'GIT_TEMPLATE_DIR',
  // interpreter start-up code and module paths
  'NODE_OPTIONS', 'NODE_PATH', 'PYTHONSTARTUP', 'PYTHONPATH', 'PYTHONHOME', 'PYTHONUSERBASE', 'PYTHONWARNINGS', 'PYTHONBREAKPOINT',
  'PERL5LIB', 'PERLLIB', 'PERL5OPT', 'PERL5DB', 'RUBYOPT', 'RUBYLIB', 'LUA_INIT.*', 'LUA_PATH.*', 'LUA_CPATH.*',
  'JAVA_TOOL_OPTIONS', '_JAVA_OPTIONS', 'JDK_JAVA_OPTIONS', 'CLASSPATH',
];
const neverAllowed = new RegExp(`^(${neverAllowedKeys.join('|')})$`);

const keyPattern = /^[A-Za-z_][A-Za-z0-9_]*$/;
const localeKeys = new Set(['LANG', 'LANGUAGE', 'LC_ALL', 'LC_COLLATE', 'LC_CTYPE', 'LC_MESSAGES', 'LC_MONETARY', 'LC_NUMERIC', 'LC_TIME']);
const maxEnvValueBytes = 4096;
/** Keys whose values are not copied into the audit record. */
const secretKey = /TOKEN|SECRET|PASSW|PASSPHRASE|CREDENTIAL|AUTH|API_?KEY|PRIVATE/i;

/** Problems with a host's exec policy (an `allowEnv` key that can never be allowed, a malformed key), for start-up validation. */
export function execPolicyProblems(policy: ExecPolicy): string[] {
  const problems: string[] = [];
  for (const [command, keys] of Object.entries(policy.allowEnv ?? {})) {
    for (const key of keys) {
      if (!keyPattern.test(key)) problems.push(`exec.allowEnv['${command}']: '${key}' is not an environment variable name`);
      else if (neverAllowed.test(key)) problems.push(`exec.allowEnv['${command}']: '${key}' can load or run other code and is never passed to a command; remove it`);
    }
  }
  return problems;
}

/** The keys a playbook may set for `command` under `policy`. */
export function allowedEnvKeys(command: string, policy: ExecPolicy): Set<string> {
  const extra = policy.allowEnv ?? {};
  return new Set([...defaultExecEnvKeys, ...(extra['*'] ?? []), ...(extra[command] ?? [])].filter((key) => !neverAllowed.test(key)));
}

/** Checks the env a playbook asked for; returns the variables or a refusal naming the key. */
export function checkPlaybookEnv(command: string, env: Record<string, string>, policy: ExecPolicy): { env: Record<string, string> } | { error: string } {
  const allowed = allowedEnvKeys(command, policy);
  for (const [key, value] of Object.entries(env)) {
    if (key === 'PATH') return { error: 'exec: env.PATH cannot be set by a playbook (commands are resolved on the host\'s search path)' };
    if (!allowed.has(key)) {
      const why = neverAllowed.test(key) ? 'it can make the command load or run other code' : 'it is not on the environment allow-list';
      return { error: `exec: env.${key} is refused for '${command}': ${why} (allowed: ${[...allowed].sort().join(', ')}; a host may allow more per command with exec.allowEnv)` };
    }
    if (value.includes('\0') || Buffer.byteLength(value) > maxEnvValueBytes) return { error: `exec: env.${key} must be text without NUL bytes, at most ${maxEnvValueBytes} bytes` };
    if (localeKeys.has(key) && !/^[A-Za-z0-9_.@:-]*$/.test(value)) return { error: `exec: env.${key} = ${JSON.stringify(value)} is not a locale name (letters, digits, _ . @ : - only)` };
    if (key === 'TZ' && (value.startsWith('/') || value.startsWith(':/') || value.includes('..'))) return { error: `exec: env.TZ = ${JSON.stringify(value)} names a file; use a zone name such as Europe/Paris` };
  }
  return { env };
}

/** The env as it goes into the run record: values of keys that look secret are withheld. */
export function envForAudit(env: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(env).map(([key, value]) => [key, secretKey.test(key) ? '[redacted]' : value]));
}

function within(root: string, path: string): boolean {
  const rel = relative(root, path);
  return rel === '' || (rel !== '..' && !rel.startsWith(`..${sep}`) && !isAbsolute(rel));
}

/**
 * Resolves a `cwd` the playbook asked for. The process follows every link
 * of its working directory, so the whole path is resolved (unlike `fs`,
 * which never follows the last component) and must be a directory inside
 * an allowed fs root. The real path is what the command gets.
 */
export async function confineCwd(raw: string, policy: FsPolicy | undefined): Promise<{ cwd: string } | { error: string }> {
  const roots = policy?.allowRoots ?? [];
  if (!isAbsolute(raw)) return { error: `exec: cwd must be an absolute path, got ${JSON.stringify(raw)}` };
  if (roots.length === 0) return { error: `exec: cwd ${JSON.stringify(raw)} is outside the allowed roots (this host allows no fs roots; omit cwd to run in the run's scratch directory)` };
  let real: string;
  try {
    real = await realpath(raw);
  } catch {
    return { error: `exec: cwd ${JSON.stringify(raw)} does not exist` };
  }
  for (const root of roots) {
    let realRoot: string;
    try {
      realRoot = await realpath(root);
    } catch {
      continue;
    }
    if (!within(realRoot, real)) continue;
    if (!(await stat(real)).isDirectory()) return { error: `exec: cwd ${JSON.stringify(raw)} is not a directory` };
    return { cwd: real };
  }
  const via = real === raw ? '' : ` (it resolves to ${real})`;
  return { error: `exec: cwd ${JSON.stringify(raw)} is outside the allowed roots${via} (allowed: ${roots.join(', ')})` };
}

/** One run's scratch directory: the working directory of commands that name none; created on first use, removed when the run ends. */
export class ScratchDir {
  private path: Promise<string> | undefined;

  constructor(private readonly runId: string) {}

  get(): Promise<string> {
    this.path ??= mkdtemp(join(tmpdir(), `sloth-run-${this.runId.replace(/[^A-Za-z0-9_-]/g, '').slice(0, 36)}-`));
    return this.path;
  }

  async remove(): Promise<void> {
    if (this.path === undefined) return;
    const dir = await this.path.catch(() => undefined);
    this.path = undefined;
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  }
}
