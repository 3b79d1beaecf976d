-- quiet_hours: no streaming during a daily time window, except for listed tokens.
--
-- Enable it by adding its folder and name:
--   plugins:
--     paths: [plugins, plugins/examples]
--     enabled: [default_tokens, default_expiry, quiet_hours]
--     config:
--       quiet_hours:
--         from: "22:00"                  # start of the window, local time (HH:MM)
--         to: "07:00"                    # end, exclusive; the window may wrap midnight
--         allow_labels: [alarm-clock]    # token labels that may stream anyway
--         allow_token_ids: [12]          # token ids that may stream anyway
--         utc_offset_minutes: 60         # optional: fixed offset instead of the server's time zone
--         reason: "quiet hours, back at 7"
--
-- A denied stream answers 403 {"error": {"code": "policy_denied", "message": <reason>}}.

local cfg = reprise.config

-- Minutes after midnight of "HH:MM"; nil when malformed.
local function minutes(text)
  if type(text) ~= "string" then return nil end
  local h, m = text:match("^(%d%d?):(%d%d)$")
  h, m = tonumber(h), tonumber(m)
  if not h or h > 23 or m > 59 then return nil end
  return h * 60 + m
end

-- A list from a YAML list or a single value.
local function list(v)
  if v == nil then return {} end
  if type(v) ~= "table" then return { v } end
  return v
end

local from, to = minutes(cfg.from), minutes(cfg.to)
local labels, ids = {}, {}
for _, label in ipairs(list(cfg.allow_labels)) do labels[tostring(label)] = true end
for _, id in ipairs(list(cfg.allow_token_ids)) do ids[tonumber(id) or -1] = true end
local offset = cfg.utc_offset_minutes
local reason = cfg.reason or ("streaming is paused between " .. tostring(cfg.from) .. " and " .. tostring(cfg.to))

-- The local minute of the day at epoch ms `now`.
local function minute_of_day(now)
  local t
  if offset ~= nil then
    t = os.date("!*t", now // 1000 + offset * 60)
  else
    t = os.date("*t", now // 1000)
  end
  return t.hour * 60 + t.min
end

-- Whether minute `m` falls in [from, to), wrapping midnight when from > to.
local function quiet(m)
  if from <= to then return m >= from and m < to end
  return m >= from or m < to
end

return {
  name = "quiet_hours",
  version = "1.0",

  check = function()
    if not from then return false, "plugins.config.quiet_hours.from must be HH:MM" end
    if not to then return false, "plugins.config.quiet_hours.to must be HH:MM" end
    if offset ~= nil and math.type(offset) ~= "integer" then
      return false, "plugins.config.quiet_hours.utc_offset_minutes must be an integer"
    end
    return true
  end,

  hooks = {
    ---@param ctx reprise.AuthorizeContext
    token_authorize = function(ctx)
      if labels[ctx.token.label] or ids[ctx.token.id] then return true end
      if quiet(minute_of_day(reprise.now())) then
        reprise.log.info("stream refused in quiet hours", { token_id = ctx.token.id, user = ctx.user.name })
        return false, reason
      end
      return true
    end,
  },
}
