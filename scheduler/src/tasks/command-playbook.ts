import type { SchedulablePlaybook } from '../playbook-catalogue.js';

/** A Lua string literal: every byte outside printable ASCII (and quotes, backslashes) as a decimal escape. */
function luaString(text: string): string {
  let out = '"';
  for (const byte of Buffer.from(text, 'utf8')) {
    out += byte >= 0x20 && byte < 0x7f && byte !== 0x22 && byte !== 0x5c ? String.fromCharCode(byte) : `\\${byte.toString().padStart(3, '0')}`;
  }
  return `${out}"`;
}

/** Bytes of the end of a command's stdout and of its stderr kept in the task's result message. */
export const outputTailBytes = 2000;

/**
 * The playbook an allow-listed command task runs as: one `exec` of the argv
 * (never a shell), so a command goes through the agent's own exec allow-list,
 * sandbox, audit and result path exactly like any playbook.
 */
export function commandPlaybook(argv: readonly string[], timeoutSeconds: number): SchedulablePlaybook {
  const seconds = Math.max(1, Math.ceil(timeoutSeconds));
  const source = [
    'return {',
    '  name = "task-command",',
    '  version = "1.0.0",',
    '  triggers = {},',
    `  timeout = ${seconds},`,
    '  run = function(ctx)',
    `    local r = exec({ ${argv.map(luaString).join(', ')} }, { timeout = ${seconds} })`,
    '    log.info("command finished", { code = r.code, stdout = r.stdout, stderr = r.stderr, timed_out = r.timed_out })',
    // The end of each stream rides in the result message, so `sloth task show` shows what the command printed.
    '    local function tail(name, text)',
    '      if text == nil or text == "" then return "" end',
    `      if #text > ${outputTailBytes} then text = "…" .. string.sub(text, -${outputTailBytes}) end`,
    '      return "\\n" .. name .. ":\\n" .. text',
    '    end',
    '    local output = tail("stdout", r.stdout) .. tail("stderr", r.stderr)',
    '    if r.timed_out then return false, "timed out" .. output end',
    '    return r.code == 0, "exit code " .. tostring(r.code) .. output',
    '  end,',
    '}',
    '',
  ].join('\n');
  return { name: 'task-command', version: '1.0.0', fileName: 'task-command.lua', source, requiresApproval: false, matches: () => false };
}
