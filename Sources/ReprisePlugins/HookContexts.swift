import LuaHost
import RepriseCore

/// The plain Lua tables hooks receive (documented in plugins/README.md, typed in plugins/types/reprise.lua).
enum HookContext {
    /// `{id, name, role}`.
    static func user(_ u: User) -> LuaValue {
        .record([LuaField("id", .integer(u.id)), LuaField("name", .string(u.name)), LuaField("role", .string(u.role.rawValue))])
    }

    /// `{id, kind, user = {id, name}, client?, agent?, ip?, created, last_seen, expires}`.
    static func session(_ s: SessionInfo) -> LuaValue {
        // A record: GC builds one per expired session.
        .record([
            LuaField("id", .integer(s.id)), LuaField("kind", .string(s.kind.rawValue)),
            LuaField("user", .record([LuaField("id", .integer(s.userId)), LuaField("name", .string(s.userName))])),
            LuaField("created", .integer(s.createdAt)), LuaField("last_seen", .integer(s.lastSeenAt)), LuaField("expires", .integer(s.expiresAt)),
            LuaField("client", s.client.map(LuaValue.string) ?? .nil), LuaField("agent", s.agent.map(LuaValue.string) ?? .nil),
            LuaField("ip", s.ip.map(LuaValue.string) ?? .nil),
        ])
    }

    /// `{user, label, requested_ttl_seconds?}`.
    static func issue(_ ctx: TokenIssueContext) -> LuaValue {
        var t: [String: LuaValue] = ["user": user(ctx.user), "label": .string(ctx.label)]
        t["requested_ttl_seconds"] = ctx.requestedTTLSeconds.map(LuaValue.integer)
        return .table(t)
    }

    /// The fields of `token_authorize`'s context, built when the policy first reads them.
    static let authorizeShape = LuaContextShape("token", "user", "request", "song", "credential")

    /// Writes field `field` of `authorizeShape`: `token = {id, label, created, expires?, last_used?}`,
    /// `user = {id, name, role}`, `request = {method, path, ip?, user_agent?, range?}`, `song?`.
    static func authorize(_ field: Int, _ t: LuaTableWriter, token: StreamTokenInfo, user u: User, request: StreamRequestFacts, song: Song?, songId: Int64?) {
        switch field {
        case 0:
            t.set("token", fields: 5) { t in
                t.set("id", token.id)
                t.set("label", token.label)
                t.set("created", token.createdAt)
                t.set("expires", token.expiresAt)
                t.set("last_used", token.lastUsedAt)
            }
        case 1:
            t.set("user", fields: 3) { t in
                t.set("id", u.id)
                t.set("name", u.name)
                t.set("role", u.role.rawValue)
            }
        case 2:
            t.set("request", fields: 5) { t in
                t.set("method", request.method)
                t.set("path", Redactor.redact(request.path)) // a token in the path or query never reaches a plugin
                t.set("ip", request.ip)
                t.set("user_agent", request.userAgent)
                t.set("range", request.range)
            }
        case 4:
            t.set("credential", fields: 2) { t in
                t.set("kind", request.credential.rawValue)
                // A token's label; a session's kind (web, api); a Subsonic app's client name.
                let label = switch request.credential {
                case .token: token.label
                case .session, .web: String(token.label.dropFirst("session:".count))
                case .subsonic: String(token.label.dropFirst("subsonic:".count))
                }
                t.set("label", label)
            }
        default:
            if let song {
                t.set("song", fields: 4) { t in
                    t.set("id", song.id)
                    t.set("title", song.title)
                    t.set("artist", song.artist)
                    t.set("album", song.album)
                }
            } else if let songId {
                t.set("song", fields: 1) { t in t.set("id", songId) }
            }
        }
    }

    /// `{id, song_id, user_id?, session_id?, token_id?, player?, range_start, range_end, bytes_expected, bytes_sent, started, finished?, status, reason?}`.
    /// `{player, owner, mode, filter?, want, queue, position, history}`.
    static func autoplay(_ c: AutoplayContext) -> LuaValue {
        .record([
            LuaField("player", .string(c.player)), LuaField("owner", .string(c.owner)), LuaField("mode", .string(c.mode)),
            LuaField("filter", c.filter.map(LuaValue.integer) ?? .nil), LuaField("want", .integer(Int64(c.want))),
            LuaField("queue", .array(c.queue.map(LuaValue.integer))), LuaField("position", .integer(Int64(c.position))),
            LuaField("history", .array(c.history.map(LuaValue.integer))),
        ])
    }

    static func stream(_ s: StreamRecord) -> LuaValue {
        .record([
            LuaField("id", .integer(s.id)), LuaField("song_id", .integer(s.songId)), LuaField("user_id", s.userId.map(LuaValue.integer) ?? .nil),
            LuaField("session_id", s.sessionId.map(LuaValue.integer) ?? .nil), LuaField("token_id", s.tokenId.map(LuaValue.integer) ?? .nil),
            LuaField("player", s.player.map(LuaValue.string) ?? .nil), LuaField("range_start", .integer(s.rangeStart)),
            LuaField("range_end", .integer(s.rangeEnd)), LuaField("bytes_expected", .integer(s.bytesExpected)),
            LuaField("bytes_sent", .integer(s.bytesSent)), LuaField("started", .integer(s.startedAt)),
            LuaField("finished", s.finishedAt.map(LuaValue.integer) ?? .nil), LuaField("status", .string(s.status.rawValue)),
            LuaField("reason", s.reason.map(LuaValue.string) ?? .nil),
        ])
    }
}
