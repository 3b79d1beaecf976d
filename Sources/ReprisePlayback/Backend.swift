import RepriseCore

/// One song handed to a player: its URL carries the player's stream token.
public struct PlayItem: Sendable, Equatable {
    public var url: String
    public var songId: Int64
    public var title: String
    public var durationMs: Int64
    /// Tags a player may show instead of the URL.
    public var artist: String = ""
    public var album: String = ""
    public var track: Int?
    public init(url: String, songId: Int64, title: String, durationMs: Int64, artist: String = "", album: String = "", track: Int? = nil) {
        self.url = url
        self.songId = songId
        self.title = title
        self.durationMs = durationMs
        self.artist = artist
        self.album = album
        self.track = track
    }
}

/// What a player reports about itself.
public struct BackendStatus: Sendable, Equatable {
    public enum State: String, Sendable, Codable { case play, pause, stop }
    public var state: State
    /// Index of the current entry in the player's queue.
    public var position: Int?
    public var elapsedMs: Int64
    public var durationMs: Int64
    public var volume: Int?
    /// The player's error text (MPD's `error:`), if any.
    public var error: String?
    public var queueLength: Int
    /// Whether the backend reported its queue's length (a plugin may not): an empty queue means cleared only then.
    public var queueKnown: Bool
    /// A number the player changes whenever its queue changes (MPD's playlist version), if it has one.
    public var queueVersion: Int64?
    public init(state: State, position: Int?, elapsedMs: Int64, durationMs: Int64, volume: Int?, error: String?, queueLength: Int, queueKnown: Bool = true, queueVersion: Int64? = nil) {
        self.queueKnown = queueKnown
        self.queueVersion = queueVersion
        self.state = state
        self.position = position
        self.elapsedMs = elapsedMs
        self.durationMs = durationMs
        self.volume = volume
        self.error = error
        self.queueLength = queueLength
    }
}

/// An entry of the player's own queue.
public struct BackendQueueEntry: Sendable, Equatable {
    public var position: Int
    public var url: String
}

/// A failure reported by a backend (the Lua `nil, err`), or a broken connection.
public typealias BackendError = PlayerError

/// The backend contract (see plugins/README.md): how the supervisor drives a player.
public protocol PlayerBackend: Sendable {
    func connect() async throws
    func enqueue(_ items: [PlayItem]) async throws
    func play(position: Int?) async throws
    func pause() async throws
    func stop() async throws
    func next() async throws
    func previous() async throws
    func clear() async throws
    func delete(position: Int) async throws
    /// Moves the entry at `from` to `to`; false when the player cannot move entries.
    func move(from: Int, to: Int) async throws -> Bool
    func seek(position: Int, ms: Int64) async throws
    func setVolume(_ volume: Int) async throws
    func status() async throws -> BackendStatus
    func queue() async throws -> [BackendQueueEntry]
    /// Releases the connection; the next call reconnects.
    func disconnect() async
    /// Returns when the player reports a change, or after `ms`: true; false when it cannot wait
    /// (no such function, or a failure), so the caller sleeps instead.
    func wait(ms: Int) async -> Bool
}

extension PlayerBackend {
    public func wait(ms: Int) async -> Bool { false }
    public func move(from: Int, to: Int) async throws -> Bool { false }
}
