/// A user's role: admins manage users, tokens and GC; users manage their own.
public enum Role: String, Sendable, Codable, CaseIterable {
    case admin
    case user
}

/// The kind of a session, which selects its TTL.
public enum SessionKind: String, Sendable, Codable, CaseIterable {
    case web
    case api
}

/// A user as the domain sees it; the password hash never leaves the store.
public struct User: Sendable, Equatable, Codable {
    public var id: Int64
    public var name: String
    public var role: Role
    public var disabled: Bool
    public var createdAt: Int64

    public init(id: Int64, name: String, role: Role, disabled: Bool, createdAt: Int64) {
        self.id = id
        self.name = name
        self.role = role
        self.disabled = disabled
        self.createdAt = createdAt
    }
}

/// A session row without its secret. Times are UTC epoch ms.
public struct SessionInfo: Sendable, Equatable, Codable {
    public var id: Int64
    public var userId: Int64
    public var userName: String
    public var kind: SessionKind
    public var client: String?
    public var agent: String?
    public var ip: String?
    public var createdAt: Int64
    public var lastSeenAt: Int64
    public var expiresAt: Int64

    public init(id: Int64, userId: Int64, userName: String, kind: SessionKind, client: String?, agent: String?, ip: String?, createdAt: Int64, lastSeenAt: Int64, expiresAt: Int64) {
        self.id = id
        self.userId = userId
        self.userName = userName
        self.kind = kind
        self.client = client
        self.agent = agent
        self.ip = ip
        self.createdAt = createdAt
        self.lastSeenAt = lastSeenAt
        self.expiresAt = expiresAt
    }
}

/// A stream token without its secret. It authorizes streaming only.
public struct StreamTokenInfo: Sendable, Equatable, Codable {
    public var id: Int64
    public var userId: Int64
    public var userName: String
    public var label: String
    public var createdAt: Int64
    public var expiresAt: Int64?
    public var lastUsedAt: Int64?
    public var revokedAt: Int64?

    public init(id: Int64, userId: Int64, userName: String, label: String, createdAt: Int64, expiresAt: Int64?, lastUsedAt: Int64?, revokedAt: Int64?) {
        self.id = id
        self.userId = userId
        self.userName = userName
        self.label = label
        self.createdAt = createdAt
        self.expiresAt = expiresAt
        self.lastUsedAt = lastUsedAt
        self.revokedAt = revokedAt
    }

    /// Whether the token can authorize a stream at `now`.
    public func isUsable(now: Int64) -> Bool {
        revokedAt == nil && (expiresAt.map { now < $0 } ?? true)
    }
}

/// The outcome of one GC pass, kept for the admin API and logs.
public struct GCRunStats: Sendable, Equatable, Codable {
    public var startedAt: Int64
    public var durationMs: Int64
    public var examined: Int
    public var deleted: Int
    public var sparedByGrace: Int
    public var sparedByLease: Int
    public var sparedByRule: Int
    public var tokensPurged: Int
    public var longestBatchMs: Int64
    public var dryRun: Bool
    /// How the pass found its sessions: "sweep" (row-id ranges deleted in SQL) or "rows" (each
    /// session read for the rules or hooks); nil for passes read back from `gc_runs`.
    public var method: String?

    public init(startedAt: Int64, durationMs: Int64 = 0, examined: Int = 0, deleted: Int = 0, sparedByGrace: Int = 0, sparedByLease: Int = 0, sparedByRule: Int = 0, tokensPurged: Int = 0, longestBatchMs: Int64 = 0, dryRun: Bool = false) {
        self.startedAt = startedAt
        self.durationMs = durationMs
        self.examined = examined
        self.deleted = deleted
        self.sparedByGrace = sparedByGrace
        self.sparedByLease = sparedByLease
        self.sparedByRule = sparedByRule
        self.tokensPurged = tokensPurged
        self.longestBatchMs = longestBatchMs
        self.dryRun = dryRun
    }
}
