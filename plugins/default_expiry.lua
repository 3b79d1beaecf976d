-- default_expiry: the built-in session lifetimes, as a plugin you can edit.
--
-- A session lives `sessions.web_ttl` / `sessions.api_ttl` after its last activity; GC collects it
-- once expired (and never while young or leased, whatever a plugin says). This plugin can set
-- other lifetimes per kind; a kind it has no entry for keeps the built-in one.
--
-- Config (plugins.config.default_expiry), optional:
--   ttl:
--     web: 2h        # seconds, or a duration: 500ms, 90s, 5m, 2h, 30d
--     api: 86400

local units = { ms = 0.001, s = 1, m = 60, h = 3600, d = 86400 }

-- Seconds from a number or a duration string; nil and a message otherwise.
local function seconds(v)
  if type(v) == "number" then
    if v > 0 then return v end
    return nil, "must be positive"
  end
  if type(v) == "string" then
    local n, unit = v:match("^(%d+)(%a*)$")
    local scale = units[unit ~= "" and unit or "s"]
    if n and scale and tonumber(n) > 0 then return tonumber(n) * scale end
  end
  return nil, "must be a positive number of seconds or a duration like 90s, 5m, 1h, 30d"
end

local ttl, problem = {}, nil
local configured = reprise.config.ttl
if configured ~= nil and type(configured) ~= "table" then
  problem = "plugins.config.default_expiry.ttl must be a mapping of session kind to lifetime"
else
  for kind, value in pairs(configured or {}) do
    local s, err = seconds(value)
    if not s then
      problem = "plugins.config.default_expiry.ttl." .. tostring(kind) .. " " .. err
      break
    end
    ttl[kind] = s
  end
end

return {
  name = "default_expiry",
  version = "1.0",

  check = function()
    if problem then return false, problem end
    return true
  end,

  hooks = {
    -- Seconds a session of this kind lives after activity; nil keeps sessions.<kind>_ttl.
    ---@param session reprise.Session
    session_ttl = function(session)
      return ttl[session.kind]
    end,

    -- No `session_collect` here: while no plugin defines it (nor `on_session_collected`), GC
    -- deletes expired sessions by row-id ranges in SQL without handing each one to Lua. Define it
    -- (see plugins/README.md) to spare sessions past their expiry:
    --   session_collect = function(session, now) return session.client ~= "mpd" end,
  },
}
