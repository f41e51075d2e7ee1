-- Restarts a systemd unit, then checks that it came back.
-- Needs `systemctl` on the agent's exec allow-list.
-- Refuses to restart the same unit more often than `min_interval` seconds
-- (state is per agent), so a flapping health check cannot cause a restart loop.
return {
  name = "restart-unit",
  description = "Restart a systemd unit and verify it is active again",
  version = "1.0.0",
  triggers = {
    { event = { type = "health_check", state = "unhealthy" } },
  },
  params = {
    unit = { type = "string", required = true, description = "systemd unit, e.g. nginx or nginx.service" },
    min_interval = { type = "integer", default = 300, description = "seconds between two restarts of the same unit" },
    verify = { type = "boolean", default = true, description = "run systemctl is-active afterwards" },
  },
  requires_approval = false,
  timeout = 120,

  run = function(ctx)
    local unit = ctx.params.unit
    -- A unit name, never an option or a path: systemctl gets it as one argv word.
    if not unit:match("^[%w][%w@%.%-_:\\]*$") then
      return false, "refusing unit name " .. string.format("%q", unit)
    end

    local key = "restart-unit:" .. unit .. ":last_millis"
    local last = state.get(key)
    local now = ctx.started_at_millis
    if last and now - last < ctx.params.min_interval * 1000 then
      log.warn("restart skipped: too soon after the previous one", { unit = unit, seconds_since = (now - last) // 1000 })
      return false, "restarted " .. ((now - last) // 1000) .. " s ago; not restarting " .. unit .. " again yet"
    end

    log.info("restarting unit", { unit = unit })
    local r = exec({ "systemctl", "restart", unit }, { timeout = 90 })
    if r.code ~= 0 then
      log.error("systemctl restart failed", { unit = unit, code = r.code, stderr = r.stderr })
      return false, "systemctl restart " .. unit .. " failed with code " .. r.code .. ": " .. r.stderr
    end
    state.set(key, now)
    metrics.counter("sloth.playbook.restarts", 1, { unit = unit })

    if ctx.params.verify and not ctx.dry_run then
      local check = exec({ "systemctl", "is-active", unit }, { timeout = 10 })
      local status = check.stdout:gsub("%s+$", "")
      if check.code ~= 0 then
        return false, unit .. " restarted but is not active (" .. status .. ")"
      end
    end
    return true, "restarted " .. unit
  end,
}
