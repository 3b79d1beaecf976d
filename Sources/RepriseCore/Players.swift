/// Autoplay: keep at least `ahead` songs queued after the current one.
public struct AutoplaySettings: Sendable, Equatable, Codable {
    public enum Mode: String, Sendable, Codable { case random, artist, album }
    public var mode: Mode
    /// An artist or album id for those modes.
    public var filter: Int64?
    public var ahead: Int
    public init(mode: Mode, filter: Int64?, ahead: Int) {
        self.mode = mode
        self.filter = filter
        self.ahead = ahead
    }
}

/// A player's status for the APIs.
public struct PlayerReport: Sendable, Encodable {
    public var name: String
    public var backend: String
    public var owner: String
    public var connected: Bool
    public var state: String
    public var position: Int
    public var elapsedMs: Int64
    public var volume: Int?
    /// Song ids in queue order; 0 marks another client's entry (listed in `foreign`).
    public var queue: [Int64]
    /// Other clients' entries: their 0-based position and URL (credentials redacted).
    public var foreign: [ForeignEntry] = []
    public var autoplay: AutoplaySettings?
    public var recoveries: Int
    public var skips: Int
    public var lastError: String?

    public init(
        name: String, backend: String, owner: String, connected: Bool, state: String, position: Int, elapsedMs: Int64, volume: Int?,
        queue: [Int64], autoplay: AutoplaySettings?, recoveries: Int, skips: Int, lastError: String?
    ) {
        (self.name, self.backend, self.owner, self.connected, self.state, self.position) = (name, backend, owner, connected, state, position)
        (self.elapsedMs, self.volume, self.queue, self.autoplay) = (elapsedMs, volume, queue, autoplay)
        (self.recoveries, self.skips, self.lastError) = (recoveries, skips, lastError)
    }
}

/// An entry another client put in a player's queue.
public struct ForeignEntry: Sendable, Encodable, Equatable {
    public let position: Int
    public let url: String
    public init(position: Int, url: String) { (self.position, self.url) = (position, Redactor.redact(url)) }
}

/// One entry of a player's event log.
public struct PlayerEvent: Sendable, Encodable, Equatable {
    /// Who caused an event: Reprise itself, or another client of the player (a person with mpc, a phone app).
    public enum Source: String, Sendable, Encodable { case reprise, client }
    public let at: Int64, kind: String, source: Source, message: String
    public init(at: Int64, kind: String, source: Source = .reprise, message: String) { (self.at, self.kind, self.source, self.message) = (at, kind, source, message) }
}

/// A player that failed a command: it refused it (it answered), or it cannot be reached.
public struct PlayerError: Error, CustomStringConvertible, Sendable {
    public let message: String
    /// The player answered and refused the command (a backend's `nil, err, "refused"`); it is still reachable.
    public let refused: Bool
    public init(_ message: String, refused: Bool = false) {
        self.message = message
        self.refused = refused
    }
    public var description: String { message }
}

/// A player as the APIs drive it (localplay, Ampache, later Subsonic's jukebox).
///
/// Commands throw `PlayerError` for the player's failures and `RepriseError` for requests that
/// cannot be done (an empty queue, an unknown song).
public protocol PlayerControl: Sendable {
    var name: String { get }
    var owner: String { get }
    func report() async -> PlayerReport
    func recentEvents(limit: Int) async throws -> [PlayerEvent]
    func enqueue(_ ids: [Int64], clear: Bool) async throws
    func clearQueue() async throws
    func command(_ name: String) async throws
    func jump(to index: Int) async throws
    /// Plays the entry at `index` from `startMs` into it.
    func jump(to index: Int, startMs: Int64) async throws
    func setVolume(_ volume: Int) async throws
    func setAutoplay(_ settings: AutoplaySettings?) async throws
    /// Removes the queue entry at `index` (0-based).
    func remove(at index: Int) async throws
    /// Shuffles the entries after the current one.
    func shuffleUpcoming() async throws
    /// Replaces the queue with `ids`; the song playing plays on when `ids` holds it.
    func replaceQueue(_ ids: [Int64]) async throws
}

/// The configured players by name.
public protocol PlayerDirectory: Sendable {
    var players: [String: any PlayerControl] { get }
}
