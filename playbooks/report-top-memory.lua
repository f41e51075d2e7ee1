-- Names the processes holding the most memory when memory use rises above
-- its expected range, and raises an alert with them: the first thing an
-- on-call human asks about a memory spike or leak. It changes nothing.
-- Needs `ps` on the agent's exec allow-list (read-only: it also runs in
-- dry-run).
return {
  name = "report-top-memory",
  description = "On a memory rise, alert with the processes holding the most memory",
  version = "1.0.0",
  triggers = {
    -- Memory above its expected range for 10 s or more (a spike, or a leak
    -- the drift test caught). A drop never matches. max_false_per_day: false
    -- incidents per series-day at 1 s in the live calibration
    -- (docs/anomaly-detection.md), resolved to a score when the playbook loads.
    -- 0.1 (-> score 0.68): read-only (it names processes and changes nothing), so a false report costs a glance.
    { anomaly = { metric = "system.memory.*", direction = "above", min_duration = 10, max_false_per_day = 0.1 } },
  },
  params = {
    top = { type = "number", default = 5, description = "how many processes to name (1 to 20)" },
    level = { type = "string", default = "warning", description = "alert level: info, warning or critical" },
  },
  requires_approval = false,
  timeout = 30,

  run = function(ctx)
    local p = ctx.params
    if p.top < 1 or p.top > 20 or p.top ~= math.floor(p.top) then
      return false, "top must be a whole number from 1 to 20, got " .. tostring(p.top)
    end
    local levels = { info = true, warning = true, critical = true }
    if not levels[p.level] then return false, "level must be info, warning or critical, got " .. tostring(p.level) end

    local ps = exec({ "ps", "-eo", "pid=,rss=,comm=", "--sort=-rss" })
    if ps.code ~= 0 then return false, "ps failed: " .. ps.stderr end

    local names = {}
    for line in ps.stdout:gmatch("[^\n]+") do
      local pid, rss, comm = line:match("^%s*(%d+)%s+(%d+)%s+(.-)%s*$")
      if pid and comm ~= "ps" then
        names[#names + 1] = string.format("%s (pid %s, %.0f MiB)", comm, pid, tonumber(rss) / 1024)
        if #names >= p.top then break end
      end
    end
    if #names == 0 then return true, "no process found" end

    local summary = "top memory: " .. table.concat(names, ", ")
    local event = ctx.event or {}
    log.info("top memory processes", { processes = summary, metric = event.metric })
    if ctx.dry_run then return true, "would alert: " .. summary end
    metrics.alert("memory_rise", { level = p.level, message = string.format("%s above its expected range; %s", event.metric or "memory", summary) })
    return true, summary
  end,
}
