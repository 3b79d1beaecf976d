---@meta
-- Type stubs for Reprise plugins (lua-language-server). Not loaded by Reprise.
-- Add this folder to "workspace.library" in .luarc.json:
--   { "workspace.library": ["plugins/types"], "runtime.version": "Lua 5.4" }
-- See plugins/README.md for the contracts.

---@class reprise.User
---@field id integer
---@field name string
---@field role "admin"|"user"

---@class reprise.SessionUser
---@field id integer
---@field name string

---A session as expiry rules and session events see it. Times are epoch ms.
---@class reprise.Session
---@field id integer
---@field kind "web"|"api"
---@field user reprise.SessionUser
---@field client string|nil
---@field agent string|nil
---@field ip string|nil
---@field created integer
---@field last_seen integer
---@field expires integer

---A stream token without its secret. Times are epoch ms.
---@class reprise.Token
---@field id integer
---@field label string
---@field created integer
---@field expires integer|nil
---@field last_used integer|nil

---@class reprise.Request
---@field method string
---@field path string
---@field ip string|nil
---@field user_agent string|nil
---@field range string|nil

---@class reprise.Song
---@field id integer
---@field title string|nil
---@field artist string|nil
---@field album string|nil

---@class reprise.TokenIssueContext
---@field user reprise.User
---@field label string
---@field requested_ttl_seconds integer|nil

---Each field is built when the hook first reads it; a context kept past the call holds only the fields read during it.
---What authorized a stream: a stream token (label: the token's), or a session (label: web or api).
---@class reprise.Credential
---@field kind "token"|"session"
---@field label string

---@class reprise.AuthorizeContext
---@field token reprise.Token for a session, its stand-in: id 0, label "session:<kind>"
---@field user reprise.User
---@field request reprise.Request
---@field song reprise.Song|nil
---@field credential reprise.Credential

---@class reprise.TokenIssueAnswer
---@field ttl_seconds integer|nil nil: the token lives until revoked

---A stream as stream events see it. Times are epoch ms.
---@class reprise.Stream
---@field id integer
---@field song_id integer
---@field user_id integer|nil
---@field session_id integer|nil
---@field token_id integer|nil
---@field player string|nil
---@field range_start integer
---@field range_end integer
---@field bytes_expected integer
---@field bytes_sent integer
---@field started integer
---@field finished integer|nil
---@field status "active"|"completed"|"aborted"
---@field reason string|nil

---What autoplay knows when it asks a plugin for the next songs.
---@class reprise.AutoplayContext
---@field player string
---@field owner string
---@field mode "random"|"album"|"artist"
---@field filter integer|nil the album or artist id the mode was given
---@field want integer how many songs are wanted
---@field queue integer[] song ids in the player's queue (other clients' entries left out)
---@field position integer 0-based index of the current song in `queue`
---@field history integer[] songs autoplay queued lately, oldest first (the last 100)

---The hooks a plugin may define; each is optional.
---@class reprise.Hooks
---Called when a token is issued: a lifetime, or nil and a reason to refuse.
---@field token_issue? fun(ctx: reprise.TokenIssueContext): reprise.TokenIssueAnswer|nil, string?
---Called on every stream request with a token: true, or false and a reason to refuse.
---@field token_authorize? fun(ctx: reprise.AuthorizeContext): boolean, string?
---Seconds a session lives after activity; nil keeps the built-in TTL.
---@field session_ttl? fun(session: reprise.Session): number|nil
---A new expiry in epoch ms for activity at `now`; nil keeps the default. Never shortens.
---@field session_extend? fun(session: reprise.Session, now: integer): integer|nil
---Asked only for expired sessions: true collects, false spares, nil has no opinion.
---@field session_collect? fun(session: reprise.Session, now: integer): boolean|nil
---Song ids autoplay queues next on a player; nil lets the built-in mode choose.
---@field autoplay_next? fun(ctx: reprise.AutoplayContext): integer[]|nil
---@field on_session_created? fun(session: reprise.Session)
---@field on_session_collected? fun(session: reprise.Session)
---@field on_stream_started? fun(stream: reprise.Stream)
---@field on_stream_finished? fun(stream: reprise.Stream)

---What a plugin file returns.
---@class reprise.Plugin
---@field name? string
---@field version? string
---@field hooks? reprise.Hooks
---Runs at load and in `reprise plugin check`: true, or false and why.
---@field check? fun(): boolean, string?

---@class reprise.Log
local Log = {}
---@param message string
---@param fields? table<string, string|number|boolean>
function Log.debug(message, fields) end
---@param message string
---@param fields? table<string, string|number|boolean>
function Log.info(message, fields) end
---@param message string
---@param fields? table<string, string|number|boolean>
function Log.warn(message, fields) end
---@param message string
---@param fields? table<string, string|number|boolean>
function Log.error(message, fields) end

---@class reprise.JSON
local JSON = {}
---@param value any plain value: nil, boolean, number, string, table
---@return string|nil text
---@return string? err
function JSON.encode(value) end
---@param text string
---@return any value
---@return string? err
function JSON.decode(text) end

---@class reprise.QueueItem
---@field url string a stream URL carrying a token
---@field song_id integer
---@field title string
---@field duration_ms integer
---@field artist string
---@field album string
---@field track integer|nil

---@class reprise.BackendStatus
---@field state "play"|"pause"|"stop"
---@field position integer|nil 0-based queue position
---@field elapsed_ms integer
---@field duration_ms integer
---@field volume integer|nil 0..100
---@field error string|nil
---@field queue_length integer
---@field queue_version integer|nil changes whenever the queue changes (MPD's playlist version)

---@class reprise.BackendQueueEntry
---@field position integer
---@field url string

---A playback backend; every function returns a true value (or the documented table), or nil and an error.
---@class reprise.BackendSpec
---@field name string
---@field connect fun(cfg: table<string, string|integer>): true|nil, string?
---@field disconnect fun(): true|nil, string?
---@field enqueue fun(items: reprise.QueueItem[]): true|nil, string?
---@field play fun(position?: integer): true|nil, string?
---@field pause fun(): true|nil, string?
---@field stop fun(): true|nil, string?
---@field next fun(): true|nil, string?
---@field previous fun(): true|nil, string?
---@field clear fun(): true|nil, string?
---@field delete fun(position: integer): true|nil, string?
---@field seek fun(position: integer, ms: integer): true|nil, string?
---@field set_volume fun(volume: integer): true|nil, string?
---@field status fun(): reprise.BackendStatus|nil, string?
---@field queue fun(): reprise.BackendQueueEntry[]|nil, string?
---@field wait? fun(timeout_ms: integer): any, string? returns on a change of the player or after timeout_ms

---@class reprise.Backend
local Backend = {}
---Registers a playback backend (top level of a backends/<name>.lua plugin).
---@param spec reprise.BackendSpec
---@return true|nil ok
---@return string? err
function Backend.register(spec) end

---@class reprise.MPDStatus
---@field state "play"|"pause"|"stop"
---@field elapsed_ms integer
---@field duration_ms integer
---@field queue_length integer
---@field queue_version integer
---@field position integer|nil
---@field song_id integer|nil
---@field volume integer|nil
---@field error string|nil

---@class reprise.MPDQueueEntry
---@field position integer
---@field id integer
---@field url string
---@field title string
---@field duration_ms integer

---libmpdclient for backend plugins. Failures return nil, err, and `true` third when the connection broke.
---@class reprise.MPD
local MPD = {}
---@return integer|nil conn
---@return string? err
function MPD.connect(host, port, password, timeout_ms) end
---@param conn integer
---@return true
function MPD.close(conn) end
---@param conn integer
---@param url string
---@param tags? {Title: string?, Artist: string?, Album: string?, Track: integer?} set with addtagid
---@return integer|nil song_id
---@return string? err
function MPD.add(conn, url, tags) end
---@param conn integer
---@return true|nil ok
---@return string? err
---@return boolean? broken
function MPD.clear(conn) end
---@param conn integer
---@param position integer
---@return true|nil ok
---@return string? err
---@return boolean? broken
function MPD.delete(conn, position) end
---@param conn integer
---@param position? integer
---@return true|nil ok
---@return string? err
---@return boolean? broken
function MPD.play(conn, position) end
---@param conn integer
---@param on? boolean
---@return true|nil ok
---@return string? err
---@return boolean? broken
function MPD.pause(conn, on) end
---@param conn integer
---@return true|nil ok
---@return string? err
---@return boolean? broken
function MPD.stop(conn) end
---@param conn integer
---@return true|nil ok
---@return string? err
---@return boolean? broken
function MPD.next(conn) end
---@param conn integer
---@return true|nil ok
---@return string? err
---@return boolean? broken
function MPD.previous(conn) end
---@param conn integer
---@param position integer
---@param ms integer
---@return true|nil ok
---@return string? err
---@return boolean? broken
function MPD.seek(conn, position, ms) end
---@param conn integer
---@param volume integer
---@return true|nil ok
---@return string? err
---@return boolean? broken
function MPD.set_volume(conn, volume) end
---@param conn integer
---@return true|nil ok
---@return string? err
---@return boolean? broken
function MPD.clear_error(conn) end
---@param conn integer
---@return reprise.MPDStatus|nil status
---@return string? err
function MPD.status(conn) end
---@param conn integer
---@return reprise.MPDQueueEntry[]|nil entries
---@return string? err
function MPD.queue(conn) end

---@class reprise.HTTPRequest
---@field url string http(s) URL; its host must be the player's host or in allow_hosts
---@field method? string default "GET"
---@field headers? table<string, string>
---@field body? string
---@field timeout_ms? integer default 5000
---@field basic_auth? {user: string, password: string}

---@class reprise.HTTPResponse
---@field status integer
---@field headers table<string, string> names lower-cased
---@field body string

---HTTP for backend plugins.
---@class reprise.HTTP
local HTTP = {}
---@param request reprise.HTTPRequest
---@return reprise.HTTPResponse|nil response
---@return string? err
function HTTP.request(request) end

---The host API: the only way out of the sandbox.
---@class reprise
---@field log reprise.Log
---@field json reprise.JSON
---@field backend reprise.Backend
---This plugin's plugins.config.<name>, read-only.
---@field config table<string, any>
---Backend plugins only.
---@field mpd reprise.MPD
---Backend plugins only.
---@field http reprise.HTTP
reprise = {}

---The current time in epoch milliseconds (injectable in tests).
---@return integer
function reprise.now() end
