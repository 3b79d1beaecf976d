-- MPD backend: drives a local or remote MPD through reprise.mpd (libmpdclient).
-- Settings (playback.players[]): host (default 127.0.0.1), port (6600), password, timeout_ms (5000).
local mpd = reprise.mpd
local conn

local function need()
  if not conn then return nil, "not connected" end
  return conn
end

-- Runs f(conn, ...); when the connection broke (third value true, or a status call errs),
-- drops it so the supervisor reconnects. MPD refusing a command keeps the connection and
-- answers nil, err, "refused".
local function with(f, ...)
  local c, err = need()
  if not c then return nil, err end
  local ok, e, broken = f(c, ...)
  if ok == nil then
    if broken or f == mpd.status or f == mpd.queue then
      mpd.close(c)
      conn = nil
    end
    if broken then return nil, e end
    return nil, e, "refused"
  end
  return ok
end

reprise.backend.register{
  name = "mpd",
  connect = function(cfg)
    if conn then mpd.close(conn); conn = nil end
    local c, err = mpd.connect(cfg.host or "127.0.0.1", cfg.port or 6600, cfg.password, cfg.timeout_ms or 5000)
    if not c then return nil, err end
    conn = c
    return true
  end,
  disconnect = function()
    if conn then mpd.close(conn); conn = nil end
    return true
  end,
  enqueue = function(items)
    for _, item in ipairs(items) do
      -- Tags (addtagid) so that every MPD client shows titles, not ?token= URLs.
      local ok, err = with(mpd.add, item.url, { Title = item.title, Artist = item.artist, Album = item.album, Track = item.track })
      if not ok then return nil, err end
    end
    return true
  end,
  play = function(position) return with(mpd.play, position) end,
  pause = function() return with(mpd.pause, true) end,
  stop = function() return with(mpd.stop) end,
  next = function() return with(mpd.next) end,
  previous = function() return with(mpd.previous) end,
  clear = function()
    local ok, err = with(mpd.clear)
    if not ok then return nil, err end
    return with(mpd.clear_error)
  end,
  delete = function(position) return with(mpd.delete, position) end,
  -- MPD moves an entry without interrupting it.
  move = function(from, to) return with(mpd.move, from, to) end,
  seek = function(position, ms) return with(mpd.seek, position, ms) end,
  set_volume = function(v) return with(mpd.set_volume, v) end,
  status = function() return with(mpd.status) end,
  queue = function() return with(mpd.queue) end,
  -- Waits until MPD reports a change (player, queue, volume, options) or timeout_ms pass.
  wait = function(timeout_ms) return with(mpd.idle, timeout_ms) end,
}

return { name = "backend_mpd", version = "1.0", hooks = {} }
