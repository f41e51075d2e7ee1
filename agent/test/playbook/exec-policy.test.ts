import { describe, expect, test } from 'vitest';
import { allowedEnvKeys, checkPlaybookEnv, execPolicyProblems } from '../../src/playbook/exec-policy.js';

// Regression tests for the security review: keys that make a program load or run other code
// (a config file, a pager, an editor, interpreter start-up options) can never be opened to playbooks.
const codeLoading = [
  'OPENSSL_CONF',
  'OPENSSL_ENGINES',
  'OPENSSL_MODULES',
  'GIT_CONFIG',
  'GIT_CONFIG_GLOBAL',
  'GIT_CONFIG_SYSTEM',
  'GIT_CONFIG_COUNT',
  'GIT_CONFIG_KEY_0',
  'GIT_CONFIG_VALUE_0',
  'GIT_CONFIG_PARAMETERS',
  'GIT_SSH',
  'GIT_SSH_COMMAND',
  'GIT_EXEC_PATH',
  'GIT_ASKPASS',
  'GIT_EDITOR',
  'GIT_EXTERNAL_DIFF',
  'GIT_PROXY_COMMAND',
  'GIT_DIR',
  'GIT_TEMPLATE_DIR',
  'PAGER',
  'SYSTEMD_PAGER',
  'MANPAGER',
  'GIT_PAGER',
  'EDITOR',
  'VISUAL',
  'SYSTEMD_EDITOR',
  'SUDO_EDITOR',
  'SHELL',
  'LESS',
  'SYSTEMD_LESS',
  'LESSOPEN',
  'LESSCLOSE',
  'LESSKEY',
  'HOME',
  'XDG_CONFIG_HOME',
  'XDG_CONFIG_DIRS',
  'XDG_DATA_HOME',
  'XDG_DATA_DIRS',
  'JAVA_TOOL_OPTIONS',
  '_JAVA_OPTIONS',
  'JDK_JAVA_OPTIONS',
  'CLASSPATH',
  'PERL5DB',
  'PERL5OPT',
  'PYTHONSTARTUP',
  'PYTHONWARNINGS',
  'PYTHONBREAKPOINT',
  'PYTHONUSERBASE',
  'RUBYOPT',
  'NODE_OPTIONS',
  'BASH_ENV',
  'ENV',
  'TERMINFO',
  'TERMINFO_DIRS',
  'TERMCAP',
  'PROMPT_COMMAND',
  'PS1',
  'ZDOTDIR',
  'SSH_ASKPASS',
  'SUDO_ASKPASS',
  'BROWSER',
  'GCONV_PATH',
  'LOCPATH',
];

describe('exec policy: never-allowed environment keys', () => {
  test.each(codeLoading)('%s in a host policy is a start-up problem naming the key', (key) => {
    expect(execPolicyProblems({ allow: ['git'], allowEnv: { git: [key], '*': [key] } })).toEqual([
      `exec.allowEnv['git']: '${key}' can load or run other code and is never passed to a command; remove it`,
      `exec.allowEnv['*']: '${key}' can load or run other code and is never passed to a command; remove it`,
    ]);
  });

  test.each(codeLoading)('%s is refused to a playbook even when the policy names it', (key) => {
    const policy = { allow: ['git'], allowEnv: { git: [key] } };
    expect(allowedEnvKeys('git', policy).has(key)).toBe(false);
    expect(checkPlaybookEnv('git', { [key]: 'x' }, policy)).toEqual({ error: expect.stringContaining(`exec: env.${key} is refused for 'git': it can make the command load or run other code`) });
  });

  test('harmless keys a host opens still reach the command', () => {
    const policy = { allow: ['systemctl', 'git'], allowEnv: { systemctl: ['SYSTEMD_COLORS', 'SYSTEMD_URLIFY'], git: ['GIT_AUTHOR_NAME', 'GIT_TERMINAL_PROMPT'] } };
    expect(execPolicyProblems(policy)).toEqual([]);
    expect(checkPlaybookEnv('systemctl', { SYSTEMD_COLORS: '0' }, policy)).toEqual({ env: { SYSTEMD_COLORS: '0' } });
    expect(checkPlaybookEnv('git', { GIT_AUTHOR_NAME: 'sloth', TERM: 'dumb' }, policy)).toEqual({ env: { GIT_AUTHOR_NAME: 'sloth', TERM: 'dumb' } });
  });
});
