-- player_ttl: sessions opened by given players (matched on User-Agent or client) live longer.
--
-- Enable it after default_expiry (later plugins win for session_ttl):
--   plugins:
--     paths: [plugins, plugins/examples]
--     enabled: [default_tokens, default_expiry, player_ttl]
--     config:
--       player_ttl:
--         agents: ["^mpd", "vlc", "kodi"]   # Lua patterns, matched against the lower-cased agent or client
--         ttl: 30d                          # their lifetime after activity (seconds or 90s/5m/1h/30d)
--         spare_for: 7d                     # optional: GC also spares them this long past expiry
--
-- Other sessions keep their usual lifetime.

local cfg = reprise.config
local units = { s = 1, m = 60, h = 3600, d = 86400 }

-- Seconds from a number or a duration string; nil when malformed.
local function seconds(v)
  if type(v) == "number" and v > 0 then return v end
  if type(v) == "string" then
    local n, unit = v:match("^(%d+)(%a?)$")
    local scale = units[unit ~= "" and unit or "s"]
    if n and scale and tonumber(n) > 0 then return tonumber(n) * scale end
  end
  return nil
end

local patterns = {}
for _, p in ipairs(type(cfg.agents) == "table" and cfg.agents or { cfg.agents }) do
  patterns[#patterns + 1] = string.lower(tostring(p))
end
local ttl = seconds(cfg.ttl)
local spare_ms = cfg.spare_for ~= nil and seconds(cfg.spare_for) and seconds(cfg.spare_for) * 1000 or nil

-- Whether the session comes from one of the configured players.
local function matches(session)
  for _, field in pairs({ agent = session.agent, client = session.client }) do
    local text = string.lower(field)
    for _, p in ipairs(patterns) do
      if text:find(p) then return true end
    end
  end
  return false
end

return {
  name = "player_ttl",
  version = "1.0",

  check = function()
    if #patterns == 0 then return false, "plugins.config.player_ttl.agents must list at least one pattern" end
    for _, p in ipairs(patterns) do
      local ok, err = pcall(string.find, "", p)
      if not ok then return false, "plugins.config.player_ttl.agents: bad pattern '" .. p .. "': " .. tostring(err) end
    end
    if not ttl then return false, "plugins.config.player_ttl.ttl must be seconds or a duration like 30d" end
    if cfg.spare_for ~= nil and not spare_ms then
      return false, "plugins.config.player_ttl.spare_for must be seconds or a duration like 7d"
    end
    return true
  end,

  hooks = {
    ---@param session reprise.Session
    session_ttl = function(session)
      if matches(session) then return ttl end
      return nil -- no opinion: the built-in (or an earlier plugin's) lifetime
    end,

    ---@param session reprise.Session
    ---@param now integer
    session_collect = function(session, now)
      if spare_ms and matches(session) and now - session.expires < spare_ms then return false end
      return true
    end,
  },
}
