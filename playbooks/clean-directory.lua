-- Keeps a directory under a size limit by deleting its oldest files first.
-- Uses the fs module (the directory must be inside one of the agent's allowed
-- fs roots): no shell, no `find | xargs rm`, and a symbolic link is removed
-- as a link, never followed out of the directory.
return {
  name = "clean-directory",
  description = "Delete the oldest files of a directory until it is under a size limit",
  version = "1.0.0",
  triggers = {
    { alert = { name = "DiskWillFill" } },
  },
  params = {
    dir = { type = "string", required = true, description = "absolute path of the directory" },
    max_bytes = { type = "integer", required = true, description = "size limit of the directory's files" },
    pattern = { type = "string", default = "", description = "Lua pattern: only files whose name matches are deleted" },
    min_age_seconds = { type = "integer", default = 0, description = "never delete files modified more recently" },
  },
  timeout = 300,

  run = function(ctx)
    local p = ctx.params
    local files, total = {}, 0
    for _, entry in ipairs(fs.list(p.dir)) do
      if entry.type == "file" then
        total = total + entry.size
        files[#files + 1] = entry
      end
    end
    log.info("directory size", { dir = p.dir, bytes = total, files = #files, limit = p.max_bytes })
    if total <= p.max_bytes then
      return true, string.format("%s uses %d bytes, under the %d byte limit: nothing to do", p.dir, total, p.max_bytes)
    end

    table.sort(files, function(a, b) return a.mtime_ms < b.mtime_ms end)
    local newest_allowed = ctx.started_at_millis - p.min_age_seconds * 1000
    local removed, freed = 0, 0
    for _, f in ipairs(files) do
      if total <= p.max_bytes then break end
      if f.mtime_ms <= newest_allowed and (p.pattern == "" or f.name:match(p.pattern)) then
        fs.remove(f.path)
        total = total - f.size
        removed = removed + 1
        freed = freed + f.size
        log.info("removed", { file = f.name, bytes = f.size })
      end
    end
    metrics.counter("sloth.playbook.cleaned_bytes", freed, { dir = p.dir })
    local verb = ctx.dry_run and "would remove" or "removed"
    local summary = string.format("%s %d file(s), %d bytes; %s now %d bytes", verb, removed, freed, p.dir, total)
    if total > p.max_bytes then
      return false, summary .. " (still over the limit: remaining files are too new or do not match)"
    end
    return true, summary
  end,
}
