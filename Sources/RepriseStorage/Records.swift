import RepriseCore

/// A live session and its user.
public struct AuthenticatedSession: Sendable, Equatable {
    public var sessionId: Int64
    public var user: User
    public var kind: SessionKind
    public var expiresAt: Int64
    public init(sessionId: Int64, user: User, kind: SessionKind, expiresAt: Int64) {
        (self.sessionId, self.user, self.kind, self.expiresAt) = (sessionId, user, kind, expiresAt)
    }
}

/// A usable stream token and its user.
public struct AuthenticatedToken: Sendable, Equatable {
    public var token: StreamTokenInfo
    public var user: User
    public init(token: StreamTokenInfo, user: User) {
        (self.token, self.user) = (token, user)
    }
}

/// What kind of storage failure an error is, for answers (507, 503) that say so.
public enum StorageFailure: Sendable, Equatable {
    /// The disk is full.
    case full
    /// Another writer held the lock past the busy timeout.
    case busy
    /// I/O errors, a read-only or corrupt database.
    case unavailable
}

/// An error the storage engine raised, classified by the engine's module.
public protocol StorageFailing: Error {
    var storageFailure: StorageFailure { get }
}

/// What a player should be doing, as persisted across restarts.
public struct PlayerState: Sendable, Equatable, Codable {
    public enum Mode: String, Sendable, Codable { case play, pause, stop }
    /// Song ids in queue order.
    public var queue: [Int64]
    /// Index of the current song in `queue`.
    public var position: Int
    public var elapsedMs: Int64
    public var state: Mode
    public var volume: Int?
    public var autoplay: AutoplaySettings?

    public init(queue: [Int64] = [], position: Int = 0, elapsedMs: Int64 = 0, state: Mode = .stop, volume: Int? = nil, autoplay: AutoplaySettings? = nil) {
        self.queue = queue
        self.position = position
        self.elapsedMs = elapsedMs
        self.state = state
        self.volume = volume
        self.autoplay = autoplay
    }
}
