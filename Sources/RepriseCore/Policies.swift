import Dispatch
/// Scriptable expiry rules (Lua `session_ttl`, `session_extend`, `session_collect`).
///
/// Each answer is advisory: nil means "no opinion, use the built-in default". Implementations
/// never throw: a failing rule answers nil, and `spareExpired` answers true (fail safe).
public protocol ExpiryRules: Sendable {
    /// The TTL in ms for a new or extended session, or nil for the default.
    func ttl(for session: SessionInfo) -> Int64?
    /// A new expiry for activity at `now`, or nil for the default; never used to shorten.
    func extend(_ session: SessionInfo, now: Int64) -> Int64?
    /// Whether to keep a session that is already past expiry; errors must answer true.
    func spareExpired(_ session: SessionInfo, now: Int64) -> Bool
    /// Whether `spareExpired` may spare anything; when false, GC deletes without reading rows.
    var judgesExpired: Bool { get }
}

extension ExpiryRules {
    public var judgesExpired: Bool { true }
}

/// The built-in expiry rules: no opinions.
public struct DefaultExpiryRules: ExpiryRules {
    public init() {}
    public func ttl(for session: SessionInfo) -> Int64? { nil }
    public func extend(_ session: SessionInfo, now: Int64) -> Int64? { nil }
    public func spareExpired(_ session: SessionInfo, now: Int64) -> Bool { false }
    public var judgesExpired: Bool { false }
}

/// What a token policy sees when a token is issued.
public struct TokenIssueContext: Sendable, Equatable {
    public var user: User
    public var label: String
    /// The lifetime the caller asked for, seconds.
    public var requestedTTLSeconds: Int64?
    public init(user: User, label: String, requestedTTLSeconds: Int64?) {
        self.user = user
        self.label = label
        self.requestedTTLSeconds = requestedTTLSeconds
    }
}

/// A token policy's answer to an issue request.
public enum TokenIssueDecision: Sendable, Equatable {
    /// Issue with this lifetime in seconds; nil means no expiry.
    case issue(ttlSeconds: Int64?)
    case deny(reason: String)
}

/// The request a stream token is presented with.
public struct StreamRequestFacts: Sendable, Equatable {
    public var method: String
    public var path: String
    public var ip: String?
    public var userAgent: String?
    public var range: String?
    /// What authorized the stream: a stream token, or a session (its `token` is then the session's stand-in).
    public var credential: CredentialKind
    public init(method: String, path: String, ip: String?, userAgent: String?, range: String?, credential: CredentialKind = .token) {
        self.method = method
        self.path = path
        self.ip = ip
        self.userAgent = userAgent
        self.range = range
        self.credential = credential
    }
}

/// The kinds of credential a stream can be authorized by; the token policy sees every one.
public enum CredentialKind: String, Sendable, Equatable {
    case token
    case session
    /// Subsonic credentials (a password, a client password's token, an API key).
    case subsonic
    /// The web UI's session cookie (the browser's `<audio>` player).
    case web
}

extension StreamTokenInfo {
    /// A session described as a token for the policy (`label` is `session:<kind>`, `id` 0), so that
    /// policies written for tokens govern streams by session too.
    public static func standIn(user: User, kind: SessionKind, expiresAt: Int64, now: Int64) -> StreamTokenInfo {
        StreamTokenInfo(id: 0, userId: user.id, userName: user.name, label: "session:\(kind.rawValue)", createdAt: now, expiresAt: expiresAt, lastUsedAt: now, revokedAt: nil)
    }
}

/// A token policy's answer to a stream request.
public enum AuthorizeDecision: Sendable, Equatable {
    case allow
    case deny(reason: String)
}

/// Scriptable token policy (Lua `token_issue`, `token_authorize`). Errors deny (fail closed).
public protocol TokenPolicy: Sendable {
    func issue(_ ctx: TokenIssueContext) -> TokenIssueDecision
    /// `song` is the catalog's song for `songId`, loaded by the caller (nil when unknown).
    func authorize(token: StreamTokenInfo, user: User, request: StreamRequestFacts, songId: Int64?, song: Song?) -> AuthorizeDecision
    /// The decision if it can be made now, on an event loop, within a small bound; nil hands the
    /// request to a path that may wait (where `authorize` runs again).
    func authorizeInline(token: StreamTokenInfo, user: User, request: StreamRequestFacts, songId: Int64?, song: Song?) -> AuthorizeDecision?
    /// Whether `authorize` may block its thread (it runs Lua): async callers then run it off Swift's cooperative pool.
    var authorizeMayBlock: Bool { get }
}

extension TokenPolicy {
    public func authorizeInline(token: StreamTokenInfo, user: User, request: StreamRequestFacts, songId: Int64?, song: Song?) -> AuthorizeDecision? {
        authorize(token: token, user: user, request: request, songId: songId, song: song)
    }

    public var authorizeMayBlock: Bool { false }

    /// `authorize` from async code: inline when it cannot block, else on a thread outside Swift's cooperative pool.
    public func authorizeOffPool(token: StreamTokenInfo, user: User, request: StreamRequestFacts, songId: Int64?, song: Song?) async -> AuthorizeDecision {
        guard authorizeMayBlock else { return authorize(token: token, user: user, request: request, songId: songId, song: song) }
        return await withCheckedContinuation { c in
            PolicyThreads.queue.async { c.resume(returning: self.authorize(token: token, user: user, request: request, songId: songId, song: song)) }
        }
    }
}

/// Threads for policy hooks that may block, apart from Swift's cooperative pool.
enum PolicyThreads {
    static let queue = DispatchQueue(label: "reprise.policy", qos: .userInitiated, attributes: .concurrent)
}

/// The built-in token policy: the requested TTL (none = until revoked), every stream allowed.
public struct DefaultTokenPolicy: TokenPolicy {
    public init() {}
    public func issue(_ ctx: TokenIssueContext) -> TokenIssueDecision { .issue(ttlSeconds: ctx.requestedTTLSeconds) }
    public func authorize(token: StreamTokenInfo, user: User, request: StreamRequestFacts, songId: Int64?, song: Song?) -> AuthorizeDecision { .allow }
}

/// Receives lifecycle events (Lua `on_session_created`, ...); fire-and-forget.
public protocol EventSink: Sendable {
    func sessionCreated(_ session: SessionInfo)
    func sessionCollected(_ session: SessionInfo)
    /// Whether `sessionCollected` does anything; when false, GC deletes without reading rows.
    var observesCollections: Bool { get }
}

extension EventSink {
    public var observesCollections: Bool { true }
}

/// Drops every event.
public struct NoEvents: EventSink {
    public init() {}
    public func sessionCreated(_ session: SessionInfo) {}
    public func sessionCollected(_ session: SessionInfo) {}
    public var observesCollections: Bool { false }
}

/// What autoplay knows when it chooses the next songs of a player (Lua `autoplay_next(ctx)`).
public struct AutoplayContext: Sendable, Equatable {
    public var player: String
    public var owner: String
    /// `random`, `album` or `artist`.
    public var mode: String
    /// The album or artist id the mode was given, if any.
    public var filter: Int64?
    /// How many songs are wanted.
    public var want: Int
    /// The song ids in the player's queue (another client's entries left out) and the current entry's index among them.
    public var queue: [Int64]
    public var position: Int
    /// Songs autoplay queued lately, oldest first.
    public var history: [Int64]
    public init(player: String, owner: String, mode: String, filter: Int64?, want: Int, queue: [Int64], position: Int, history: [Int64]) {
        (self.player, self.owner, self.mode, self.filter, self.want) = (player, owner, mode, filter, want)
        (self.queue, self.position, self.history) = (queue, position, history)
    }
}

/// A scripted autoplay choice: song ids, or nil to let the built-in mode choose (also on any failure).
public protocol AutoplayChooser: Sendable {
    func autoplayNext(_ ctx: AutoplayContext) -> [Int64]?
}
