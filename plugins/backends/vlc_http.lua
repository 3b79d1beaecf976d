-- VLC backend: drives VLC's HTTP interface (cvlc -I http --http-password X) through reprise.http.
-- Settings (playback.players[]): host (default 127.0.0.1), port (8080), password, timeout_ms (5000).
-- The host must be reachable by this plugin: it is allowed automatically; add others with allow_hosts.
local http, json = reprise.http, reprise.json
local cfg

local function urlencode(s)
  return (tostring(s):gsub("[^%w%-%._~]", function(c) return string.format("%%%02X", string.byte(c)) end))
end

-- Calls /requests/<path>?<query> and returns the decoded JSON, or nil, err.
local function request(path, query)
  if not cfg then return nil, "not connected" end
  local url = string.format("http://%s:%d/requests/%s", cfg.host, cfg.port, path)
  if query then url = url .. "?" .. query end
  local res, err = http.request{ method = "GET", url = url, timeout_ms = cfg.timeout_ms,
                                 basic_auth = { user = "", password = cfg.password } }
  if not res then return nil, err end
  if res.status == 401 then return nil, "VLC refused the password (401)" end
  if res.status ~= 200 then return nil, "VLC answered " .. tostring(res.status) end
  local ok, body = pcall(json.decode, res.body)
  if not ok or body == nil then return nil, "VLC sent invalid JSON" end
  return body
end

local function command(name, extra)
  local q = "command=" .. name
  if extra then q = q .. "&" .. extra end
  local body, err = request("status.json", q)
  if not body then return nil, err end
  return true
end

-- The playlist's items in order: { {id = n, uri = s}, ... }.
local function items()
  local tree, err = request("playlist.json")
  if not tree then return nil, err end
  for _, node in ipairs(tree.children or {}) do
    if node.name == "Playlist" or node.id == "1" then
      local out = {}
      for _, leaf in ipairs(node.children or {}) do
        out[#out + 1] = { id = tonumber(leaf.id), uri = leaf.uri }
      end
      return out
    end
  end
  return {}
end

local function id_at(position)
  local list, err = items()
  if not list then return nil, err end
  local item = list[(position or 0) + 1]
  if not item then return nil, "no entry at position " .. tostring(position) end
  return item.id
end

reprise.backend.register{
  name = "vlc_http",
  connect = function(c)
    cfg = { host = c.host or "127.0.0.1", port = c.port or 8080, password = c.password or "", timeout_ms = c.timeout_ms or 5000 }
    local body, err = request("status.json")
    if not body then cfg = nil; return nil, err end
    return true
  end,
  disconnect = function() cfg = nil; return true end,
  enqueue = function(list)
    for _, item in ipairs(list) do
      local ok, err = command("in_enqueue", "input=" .. urlencode(item.url))
      if not ok then return nil, err end
    end
    return true
  end,
  play = function(position)
    if position == nil then return command("pl_forceresume") end
    local id, err = id_at(position)
    if not id then return nil, err end
    return command("pl_play", "id=" .. id)
  end,
  pause = function() return command("pl_forcepause") end,
  stop = function() return command("pl_stop") end,
  next = function() return command("pl_next") end,
  previous = function() return command("pl_previous") end,
  clear = function() return command("pl_empty") end,
  delete = function(position)
    local id, err = id_at(position)
    if not id then return nil, err end
    return command("pl_delete", "id=" .. id)
  end,
  seek = function(_, ms) return command("seek", "val=" .. math.floor(ms / 1000)) end,
  -- VLC's volume runs 0..512 with 256 = 100 %.
  set_volume = function(v) return command("volume", "val=" .. math.floor(v * 256 / 100 + 0.5)) end,
  status = function()
    local s, err = request("status.json")
    if not s then return nil, err end
    local list, lerr = items()
    if not list then return nil, lerr end
    local position
    for i, item in ipairs(list) do
      if item.id == tonumber(s.currentplid) then position = i - 1 end
    end
    -- VLC has no playlist version: a hash of the ordered item ids changes whenever the playlist does.
    local version = 0
    for _, item in ipairs(list) do version = (version * 31 + (tonumber(item.id) or 0)) % 2147483647 end
    local states = { playing = "play", paused = "pause", stopped = "stop" }
    local length = tonumber(s.length) or 0
    local elapsed = (tonumber(s.position) or 0) * length * 1000
    return {
      state = states[s.state] or "stop",
      position = position,
      elapsed_ms = math.floor(elapsed),
      duration_ms = length * 1000,
      volume = math.floor((tonumber(s.volume) or 0) * 100 / 256 + 0.5),
      queue_length = #list,
      queue_version = version,
    }
  end,
  queue = function()
    local list, err = items()
    if not list then return nil, err end
    local out = {}
    for i, item in ipairs(list) do out[#out + 1] = { position = i - 1, url = item.uri } end
    return out
  end,
}

return { name = "backend_vlc_http", version = "1.0", hooks = {} }
