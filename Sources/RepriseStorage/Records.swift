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
    /// Song ids in queue order; 0 marks an entry another client added, whose URL is in `foreign`.
    public var queue: [Int64]
    /// The URLs of the queue's foreign entries (its zeros), in queue order.
    public var foreign: [String]
    /// Index of the current song in `queue`.
    public var position: Int
    public var elapsedMs: Int64
    public var state: Mode
    public var volume: Int?
    public var autoplay: AutoplaySettings?
    /// The songs autoplay queued lately, oldest first: its shuffle window.
    public var history: [Int64]

    public init(queue: [Int64] = [], foreign: [String] = [], position: Int = 0, elapsedMs: Int64 = 0, state: Mode = .stop, volume: Int? = nil, autoplay: AutoplaySettings? = nil, history: [Int64] = []) {
        self.queue = queue
        self.foreign = foreign
        self.history = history
        self.position = position
        self.elapsedMs = elapsedMs
        self.state = state
        self.volume = volume
        self.autoplay = autoplay
    }

    /// One queue entry: a Reprise song or another client's URL.
    public enum Entry: Sendable, Hashable {
        case song(Int64)
        case foreign(String)
        /// A foreign entry's URL.
        public var url: String? { if case .foreign(let u) = self { u } else { nil } }
    }

    /// The queue as entries (songs and foreign URLs), in order.
    public var entries: [Entry] {
        get {
            var urls = foreign.makeIterator()
            return queue.map { $0 == 0 ? .foreign(urls.next() ?? "") : .song($0) }
        }
        set {
            queue = newValue.map { if case .song(let id) = $0 { id } else { 0 } }
            foreign = newValue.compactMap { if case .foreign(let url) = $0 { url } else { nil } }
        }
    }
}
