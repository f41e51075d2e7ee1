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
    // Sizes only: the output itself is not logged (the agent exports its logs), it rides masked in the result.
    '    log.info("command finished", { code = r.code, stdout_bytes = #(r.stdout or ""), stderr_bytes = #(r.stderr or ""), timed_out = r.timed_out })',
    // The end of each stream rides in the result message, so `sloth task show` shows what the command printed;
    // cut at a line start when there is one, so the scheduler's masking sees kept lines whole (`password=…`, not `word=…`).
    '    local function tail(name, text)',
    '      if text == nil or text == "" then return "" end',
    `      if #text > ${outputTailBytes} then`,
    `        text = string.sub(text, -${outputTailBytes})`,
    '        local newline = string.find(text, "\\n", 1, true)',
    '        if newline ~= nil then text = string.sub(text, newline + 1) end',
    '        text = "…" .. text',
    '      end',
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
