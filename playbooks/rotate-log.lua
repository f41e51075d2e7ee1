-- Rotates a log file: file -> file.1 -> file.2 ... keeping `keep` old files,
-- then creates a fresh empty file. Uses the fs module (the file must be
-- inside one of the agent's allowed fs roots).
return {
  name = "rotate-log",
  description = "Rotate a log file when it is over a size, keeping N old copies",
  version = "1.0.0",
  triggers = {
    { alert = { name = "LogFileTooLarge" } },
  },
  params = {
    path = { type = "string", required = true, description = "absolute path of the log file" },
    keep = { type = "integer", default = 5, description = "old copies to keep (file.1 … file.N)" },
    max_bytes = { type = "integer", default = 0, description = "rotate only when the file is larger (0: always)" },
  },
  timeout = 60,

  run = function(ctx)
    local p = ctx.params
    if p.keep < 1 then return false, "keep must be at least 1" end
    local current = fs.stat(p.path)
    if not current then return false, p.path .. " does not exist" end
    if current.type ~= "file" then return false, p.path .. " is not a regular file" end
    if current.size <= p.max_bytes then
      return true, string.format("%s is %d bytes, not over %d: not rotated", p.path, current.size, p.max_bytes)
    end

    local oldest = p.path .. "." .. p.keep
    if fs.stat(oldest) then fs.remove(oldest) end
    for i = p.keep - 1, 1, -1 do
      local from = p.path .. "." .. i
      if fs.stat(from) then fs.rename(from, p.path .. "." .. (i + 1)) end
    end
    fs.rename(p.path, p.path .. ".1")
    fs.touch(p.path)
    log.info("rotated", { file = p.path, bytes = current.size, keep = p.keep })
    return true, string.format("%s %s (%d bytes), keeping %d", ctx.dry_run and "would rotate" or "rotated", p.path, current.size, p.keep)
  end,
}
