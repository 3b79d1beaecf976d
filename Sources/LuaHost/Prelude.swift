/// The Lua side of the host, compiled into the binary (as mpv ships `defaults.lua`).
///
/// It runs once per VM with the full global table and the raw host table as its argument, builds
/// the sandbox, clears the real globals, and returns the internal entry points Swift calls.
enum Prelude {
    static let source = #"""
    -- Reprise prelude: builds the sandbox. Receives the raw host table; returns internal entry points.
    local host = ...
    local G = _G
    local assert, error, getmetatable, ipairs, next, pairs, pcall, rawequal, rawget, rawlen, rawset,
          select, setmetatable, tonumber, tostring, type, xpcall, load, collectgarbage =
          assert, error, getmetatable, ipairs, next, pairs, pcall, rawequal, rawget, rawlen, rawset,
          select, setmetatable, tonumber, tostring, type, xpcall, load, collectgarbage
    local VERSION = _VERSION
    local string, table, math, utf8, coroutine, os = string, table, math, utf8, coroutine, os
    local sfind, sgsub, sgmatch, concat = string.find, string.gsub, string.gmatch, table.concat
    local host_log, host_loadfile, host_modules, host_values = host.log, host.loadfile, host.modules, host.values
    local host_next, host_rawget = host.next, host.rawget -- fill a hook's context before reading it
    local _ENV = nil -- from here on a stray global access fails loudly

    -- Read-only proxies: writes raise, the metatable is locked, pairs and # see the real table.
    local protected = setmetatable({}, {__mode = "k"})

    local function refuse(_, key)
      error("attempt to modify read-only table (field '" .. tostring(key) .. "')", 2)
    end

    local function readonly(t)
      local proxy = {}
      -- pairs gets the proxy back as its state, never the table behind it.
      local function step(_, k) return next(t, k) end
      setmetatable(proxy, {
        __index = t,
        __newindex = refuse,
        __pairs = function() return step, proxy, nil end,
        __len = function() return #t end,
        __metatable = false,
      })
      protected[proxy] = true
      return proxy
    end

    local function copy(t, skip)
      local c = {}
      for k, v in next, t do
        if k ~= skip then c[k] = v end
      end
      return c
    end

    -- Deeply read-only copy, for reprise.config and registered values.
    local function frozen(v)
      if type(v) ~= "table" then return v end
      local c = {}
      for k, x in next, v do c[k] = frozen(x) end
      return readonly(c)
    end

    -- Shared libraries, each behind a proxy; string without dump, os with clock functions only.
    local ro_string = readonly(copy(string, "dump"))
    local string_mt = getmetatable("")
    string_mt.__index = ro_string
    string_mt.__metatable = readonly({__index = ro_string})

    local function safe_rawset(t, k, v)
      if protected[t] then error("attempt to modify read-only table", 2) end
      return rawset(t, k, v)
    end

    local function safe_collectgarbage(opt)
      if opt == "count" then return collectgarbage("count") end
      error("collectgarbage: only \"count\" is allowed", 2)
    end

    local base = {
      assert = assert, error = error, getmetatable = getmetatable, ipairs = ipairs, next = host_next,
      pairs = pairs, pcall = pcall, rawequal = rawequal, rawget = host_rawget, rawlen = rawlen,
      rawset = safe_rawset, select = select, setmetatable = setmetatable, tonumber = tonumber,
      tostring = tostring, type = type, xpcall = xpcall, _VERSION = VERSION,
      collectgarbage = safe_collectgarbage,
      string = ro_string,
      table = readonly(copy(table)),
      math = readonly(copy(math)),
      utf8 = readonly(copy(utf8)),
      coroutine = readonly(copy(coroutine)),
      os = readonly({time = os.time, clock = os.clock, date = os.date, difftime = os.difftime}),
    }
    local env_mt = {__index = base, __metatable = false}

    local plugins, order = {}, {}
    local LOADING = {}

    local function valid_module_name(name)
      if type(name) ~= "string" or name == "" then return false end
      for segment in sgmatch(name .. ".", "(.-)%.") do
        if not sfind(segment, "^[%w_]+$") then return false end
      end
      return true
    end

    -- require: modules come from the plugin's own directory, run in its _ENV, cached per plugin.
    local function make_require(rec)
      local cache = {}
      return function(name)
        if not valid_module_name(name) then
          error("require: invalid module name '" .. tostring(name) .. "'", 2)
        end
        local cached = cache[name]
        if cached == LOADING then error("require: loop while loading '" .. name .. "'", 2) end
        if cached ~= nil then return cached end
        local chunk, err, kind = host_loadfile(rec.dir, (sgsub(name, "%.", "/")) .. ".lua", rec.env)
        if not chunk then
          if kind == "syntax" then error(err, 0) end
          error("require: module '" .. name .. "' not found: " .. err, 2)
        end
        cache[name] = LOADING
        local ok, result = pcall(chunk, name)
        if not ok then
          cache[name] = nil
          error(result, 0)
        end
        if result == nil then result = true end
        cache[name] = result
        return result
      end
    end

    -- load: text chunks only, in the plugin's _ENV unless another env is given.
    local function make_load(env)
      return function(chunk, chunkname, _, chunk_env)
        if type(chunk) == "string" and sfind(chunk, "^\27") then
          return nil, "load: binary chunks are not allowed"
        end
        if chunk_env == nil then chunk_env = env end
        return load(chunk, chunkname, "t", chunk_env)
      end
    end

    local function make_print(rec)
      return function(...)
        local parts = {}
        for i = 1, select("#", ...) do parts[i] = tostring((select(i, ...))) end
        host_log(rec.name, "info", concat(parts, "\t"), nil)
      end
    end

    local function make_reprise(rec, config)
      local modules = {
        log = {},
        json = {encode = host.json_encode, decode = host.json_decode},
        backend = {},
      }
      for _, level in ipairs({"debug", "info", "warn", "error"}) do
        modules.log[level] = function(message, fields)
          if type(fields) ~= "table" then fields = nil end
          return host_log(rec.name, level, tostring(message), fields)
        end
      end
      modules.backend.register = function(spec)
        if type(spec) ~= "table" then return nil, "backend.register: expected a table" end
        local name = spec.name
        if type(name) ~= "string" or name == "" then
          return nil, "backend.register: 'name' must be a non-empty string"
        end
        if rec.backends[name] ~= nil then
          return nil, "backend.register: '" .. name .. "' is already registered"
        end
        rec.backends[name] = spec
        rec.backend_names[#rec.backend_names + 1] = name
        return true
      end
      for module, fns in next, host_modules do
        local m = modules[module] or {}
        for name, fn in next, fns do m[name] = fn end
        modules[module] = m
      end
      local r = {now = host.now}
      for module, m in next, modules do r[module] = readonly(m) end
      for name, value in next, host_values do r[name] = frozen(value) end
      r.config = frozen(config)
      return readonly(r)
    end

    -- Loads one plugin file; returns hooks, version or nil, code, message.
    local function load_plugin(name, dir, file, config)
      local where = dir .. "/" .. file
      if plugins[name] ~= nil then
        return nil, "badPlugin", where .. ": duplicate plugin name '" .. name .. "'"
      end
      local env = {}
      local rec = {name = name, dir = dir, env = env, backends = {}, backend_names = {}}
      env._G = env
      env.reprise = make_reprise(rec, config)
      env.require = make_require(rec)
      env.load = make_load(env)
      env.print = make_print(rec)
      setmetatable(env, env_mt)
      local chunk, err, kind = host_loadfile(dir, file, env)
      if not chunk then return nil, kind == "syntax" and "syntax" or "loadFailed", err end
      local spec = chunk(name)
      if type(spec) ~= "table" then
        return nil, "badPlugin", where .. ": a plugin must return a table, not " .. type(spec)
      end
      local hooks = spec.hooks
      if hooks == nil then hooks = {} end
      if type(hooks) ~= "table" then return nil, "badPlugin", where .. ": 'hooks' must be a table" end
      local fns = {}
      for k, v in next, hooks do
        if type(k) ~= "string" or type(v) ~= "function" then
          return nil, "badPlugin", where .. ": hook '" .. tostring(k) .. "' must be a function"
        end
        fns[k] = v
      end
      local version = spec.version
      if version ~= nil and type(version) ~= "string" and type(version) ~= "number" then
        return nil, "badPlugin", where .. ": 'version' must be a string"
      end
      local check = spec.check
      if check ~= nil then
        if type(check) ~= "function" then return nil, "badPlugin", where .. ": 'check' must be a function" end
        local ok, why = check()
        if not ok then
          return nil, "badPlugin", where .. ": self-check failed: " .. tostring(why or ok)
        end
      end
      plugins[name] = rec
      order[#order + 1] = name
      return fns, version ~= nil and tostring(version) or nil
    end

    -- Calls backend[fname](...); returns true, results or false, message.
    local function call_backend(plugin, backend, fname, ...)
      local rec = plugins[plugin]
      if rec == nil then return false, "no plugin named '" .. plugin .. "'" end
      local spec = rec.backends[backend]
      if spec == nil then return false, "plugin '" .. plugin .. "' has no backend '" .. backend .. "'" end
      local fn = spec[fname]
      if type(fn) ~= "function" then
        return false, "backend '" .. backend .. "' has no function '" .. fname .. "'"
      end
      return true, fn(...)
    end

    -- Returns {plugin = {backend names in registration order}}.
    local function list_backends()
      local out = {}
      for _, name in ipairs(order) do out[name] = copy(plugins[name].backend_names) end
      return out
    end

    for k in next, G do G[k] = nil end
    return {load_plugin = load_plugin, call_backend = call_backend, list_backends = list_backends}
    """#
}
