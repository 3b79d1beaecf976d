/// One hook Reprise calls: its name, kind, Lua type and documented signature.
///
/// `Hooks.all` is the only list: discovery accepts these names, and tests check that
/// `plugins/types/reprise.lua` and `plugins/README.md` describe exactly these, in these words.
public struct HookDeclaration: Sendable, Equatable {
    /// What a failure of the hook means (plugins/README.md, "Failure semantics").
    public enum Kind: String, Sendable {
        /// Token issue and stream authorization: a failure refuses (fails closed).
        case policy
        /// Session lifetimes and collection: a failure keeps the built-in rule, or the session.
        case expiry
        /// Notifications run off the request path: a failure is only logged.
        case event
        /// Playback choices (autoplay): a failure lets the built-in mode choose.
        case choice
    }

    public let name: String
    public let kind: Kind
    /// The signature as plugins/README.md writes it (its heading or table row).
    public let signature: String
    /// The LuaLS type of the field in `reprise.Hooks` (plugins/types/reprise.lua).
    public let luaType: String
    /// The one-line description above that field.
    public let doc: String?
}

/// Every hook, in the order the plugin guide presents them.
public enum Hooks {
    public static let all: [HookDeclaration] = [
        HookDeclaration(
            name: "token_issue", kind: .policy, signature: "token_issue(ctx) -> {ttl_seconds = n} | nil, reason",
            luaType: "fun(ctx: reprise.TokenIssueContext): reprise.TokenIssueAnswer|nil, string?",
            doc: "Called when a token is issued: a lifetime, or nil and a reason to refuse."),
        HookDeclaration(
            name: "token_authorize", kind: .policy, signature: "token_authorize(ctx) -> true | false, reason",
            luaType: "fun(ctx: reprise.AuthorizeContext): boolean, string?",
            doc: "Called on every stream request with a token: true, or false and a reason to refuse."),
        HookDeclaration(
            name: "session_ttl", kind: .expiry, signature: "session_ttl(session) -> seconds | nil",
            luaType: "fun(session: reprise.Session): number|nil",
            doc: "Seconds a session lives after activity; nil keeps the built-in TTL."),
        HookDeclaration(
            name: "session_extend", kind: .expiry, signature: "session_extend(session, now) -> expiry_ms | nil",
            luaType: "fun(session: reprise.Session, now: integer): integer|nil",
            doc: "A new expiry in epoch ms for activity at `now`; nil keeps the default. Never shortens."),
        HookDeclaration(
            name: "session_collect", kind: .expiry, signature: "session_collect(session, now) -> boolean",
            luaType: "fun(session: reprise.Session, now: integer): boolean|nil",
            doc: "Asked only for expired sessions: true collects, false spares, nil has no opinion."),
        HookDeclaration(
            name: "autoplay_next", kind: .choice, signature: "autoplay_next(ctx) -> {song_id, ...} | nil",
            luaType: "fun(ctx: reprise.AutoplayContext): integer[]|nil",
            doc: "Song ids autoplay queues next on a player; nil lets the built-in mode choose."),
        HookDeclaration(name: "on_session_created", kind: .event, signature: "on_session_created(session)", luaType: "fun(session: reprise.Session)", doc: nil),
        HookDeclaration(name: "on_session_collected", kind: .event, signature: "on_session_collected(session)", luaType: "fun(session: reprise.Session)", doc: nil),
        HookDeclaration(name: "on_stream_started", kind: .event, signature: "on_stream_started(stream)", luaType: "fun(stream: reprise.Stream)", doc: nil),
        HookDeclaration(name: "on_stream_finished", kind: .event, signature: "on_stream_finished(stream)", luaType: "fun(stream: reprise.Stream)", doc: nil),
    ]

    /// The names of `all`.
    public static let names: Set<String> = Set(all.map(\.name))
}
