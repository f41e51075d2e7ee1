import { maxAttributeDepth, maxAttributeKeyBytes, maxAttributeValueBytes, maxRecordAttributes, maxRecordValues } from './attribute-limits.js';
import { maxLogMessageChars } from './sandbox-job.js';

/**
 * The trusted Lua code that turns a bare Lua state into the playbook sandbox.
 * It runs before any playbook code, receives the host bridge `H` (JS
 * functions) as its argument, keeps the originals it needs in locals the
 * playbook cannot reach, and removes the bridge from the globals.
 */
export const forbiddenGlobals = [
  'os', 'io', 'require', 'load', 'loadfile', 'dofile', 'loadstring', 'debug', 'package',
  'collectgarbage', 'setfenv', 'getfenv', 'module', 'newproxy', 'dump',
] as const;

export const preludeSource = String.raw`
local H = ...
load, loadfile, dofile, collectgarbage, string.dump = nil, nil, nil, nil, nil
local error, type, select, tostring, setmetatable, getmetatable, rawget, next, pairs =
      error, type, select, tostring, setmetatable, getmetatable, rawget, next, pairs
local pcall_, xpcall_, setmetatable_ = pcall, xpcall, setmetatable
local co_resume, co_close = coroutine.resume, coroutine.close
local concat = table.concat
local check, call, notify, forbidden = H.check, H.call, H.notify, H.forbidden

-- A run stopped by a limit must not be caught by the playbook: every
-- protected call re-raises once the runtime has stopped the run.
local function rethrow(ok, ...)
  if not ok then
    local stop = check((...))
    if stop then error(stop, 0) end
  end
  return ok, ...
end
pcall = function(f, ...) return rethrow(pcall_(f, ...)) end
xpcall = function(f, h, ...) return rethrow(xpcall_(f, h, ...)) end
coroutine.resume = function(co, ...) return rethrow(co_resume(co, ...)) end
coroutine.close = function(co) return rethrow(co_close(co)) end

local function host(level, method, ...)
  local r = call(method, ...)
  if not r.ok then
    if r.stop then error(r.err, 0) end
    error(r.err, level)
  end
  return r.value
end
local function tell(method, ...)
  local r = notify(method, ...)
  -- Level 4: the playbook line that called log.*, print or warn (tell ← record ← log.info)
  if not r.ok then error(r.err, 4) end
end

local function fmt(...)
  local n = select('#', ...)
  local parts = {}
  for i = 1, n do parts[i] = tostring((select(i, ...))) end
  return concat(parts, '\t')
end

-- A log record is cut down here, in Lua, before it is converted to JS: converting copies every
-- string once per reference, so {a = big, b = big, ...} would be many copies of one big string.
-- The host side applies the exact limits (a cut at a character boundary) to what is left.
local sub = string.sub
local function clip(v, depth, budget)
  local t = type(v)
  if t == 'string' then
    if #v > ${maxAttributeValueBytes} then return sub(v, 1, ${maxAttributeValueBytes + 4}) end
    return v
  end
  if t ~= 'table' then return v end
  if depth > ${maxAttributeDepth} then return '(nested too deep)' end
  local out, n = {}, 0
  for k, x in next, v do
    if n > ${maxRecordAttributes} or budget[1] <= 0 then break end
    local kt = type(k)
    -- Other keys would be converted with tostring (a __tostring is playbook code): leave them out.
    if kt == 'string' or kt == 'number' then
      n = n + 1
      budget[1] = budget[1] - 1
      if kt == 'string' and #k > ${maxAttributeKeyBytes} then k = sub(k, 1, ${maxAttributeKeyBytes + 4}) end
      out[k] = clip(x, depth + 1, budget)
    end
  end
  return out
end
local function record(level, message, attrs)
  if type(message) == 'string' then
    if #message > ${maxLogMessageChars * 4} then message = sub(message, 1, ${maxLogMessageChars * 4 + 4}) end
  else
    message = clip(message, 0, { ${maxRecordValues} })
  end
  tell('log', level, message, clip(attrs, 0, { ${maxRecordValues} }))
end

log = {
  info = function(message, attrs) record('info', message, attrs) end,
  warn = function(message, attrs) record('warn', message, attrs) end,
  error = function(message, attrs) record('error', message, attrs) end,
}
print = function(...) record('info', fmt(...)) end
-- Lua's warn writes to the process's stderr: route it to the run's log instead.
warn = function(first, ...)
  if select('#', ...) == 0 and type(first) == 'string' and first:sub(1, 1) == '@' then return end
  record('warn', concat({ tostring(first), ... }))
end

metrics = {
  gauge = function(name, value, attrs) local v = host(3, 'metric', 'gauge', name, value, attrs) return v end,
  counter = function(name, value, attrs) local v = host(3, 'metric', 'counter', name, value, attrs) return v end,
  histogram = function(name, value, attrs) local v = host(3, 'metric', 'histogram', name, value, attrs) return v end,
  get = function(name, attrs) local v = host(3, 'metrics.get', name, attrs) return v end,
  system_cpu = function() local v = host(3, 'metrics.system_cpu') return v end,
  system_memory = function() local v = host(3, 'metrics.system_memory') return v end,
  alert = function(name, opts) local v = host(3, 'alert', name, opts) return v end,
}

exec = function(argv, opts) local v = host(3, 'exec', argv, opts) return v end

http = {
  get = function(url, opts) local v = host(3, 'http', 'GET', url, opts) return v end,
  post = function(url, opts) local v = host(3, 'http', 'POST', url, opts) return v end,
}

state = {
  get = function(key) local v = host(3, 'state.get', key) return v end,
  set = function(key, value) local v = host(3, 'state.set', key, value) return v end,
  incr = function(key, by) local v = host(3, 'state.incr', key, by) return v end,
  cas = function(key, expected, value) local v = host(3, 'state.cas', key, expected, value) return v end,
}

fs = {
  list = function(dir) local v = host(3, 'fs.list', dir) return v end,
  stat = function(path) local v = host(3, 'fs.stat', path) return v end,
  remove = function(path) local v = host(3, 'fs.remove', path) return v end,
  rename = function(from, to) local v = host(3, 'fs.rename', from, to) return v end,
  touch = function(path) local v = host(3, 'fs.touch', path) return v end,
}

json = {
  encode = function(value) local v = host(3, 'json.encode', value) return v end,
  decode = function(text) local v = host(3, 'json.decode', text) return v end,
}

sleep = function(ms) local v = host(3, 'sleep', ms) return v end

-- Forbidden capabilities fail loudly instead of being silently nil.
local FORBIDDEN = {}
for _, name in pairs(H.forbiddenNames) do FORBIDDEN[name] = true end
local function deny(what, level)
  forbidden(what)
  if what == '__gc' then error("'__gc' metamethods are not available in the Sloth playbook sandbox (forbidden: finalizers cannot be interrupted)", level + 1) end
  error("'" .. what .. "' is not available in the Sloth playbook sandbox (forbidden)", level)
end
-- Finalizers run with hooks disabled, so a limit could not stop one that loops:
-- a metatable with __gc is refused (Lua only honours a __gc present at setmetatable time).
_G.setmetatable = function(t, mt)
  if type(mt) == 'table' and rawget(mt, '__gc') ~= nil then deny('__gc', 2) end
  return setmetatable_(t, mt)
end

setmetatable_(_G, {
  __index = function(_, key) if FORBIDDEN[key] then deny(key, 3) end return nil end,
  __metatable = 'the sandbox globals are locked',
})
setmetatable_(string, {
  __index = function(_, key) if key == 'dump' then deny('string.dump', 3) end return nil end,
  __metatable = 'the string library is locked',
})
getmetatable('').__metatable = 'the string metatable is locked'
`;
