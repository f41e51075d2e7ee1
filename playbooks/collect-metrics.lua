-- Records a few custom metrics, reads the host's CPU and memory, and raises
-- an alert when the CPU is busy. The example from the playbooks issue.
return {
  name = "collect-metrics",
  description = "Record deployment metrics, read CPU and memory, alert on high CPU",
  version = "1.0.0",
  triggers = {},
  params = {
    cpu_threshold = { type = "number", default = 80, description = "CPU percent above which high_cpu is raised" },
  },
  requires_approval = false,
  timeout = 30,

  run = function(ctx)
    metrics.gauge("task_duration", 45.2)
    metrics.counter("deployments_total", 1)

    local cpu = metrics.system_cpu()
    local memory = metrics.system_memory()
    log.info("system usage", { cpu_percent = cpu, memory_percent = memory })

    if cpu > ctx.params.cpu_threshold then
      metrics.alert("high_cpu", {
        level = "warning",
        message = string.format("CPU at %.1f%% (threshold %.0f%%)", cpu, ctx.params.cpu_threshold),
      })
    end
    return true, "Metrics collected successfully"
  end,
}
