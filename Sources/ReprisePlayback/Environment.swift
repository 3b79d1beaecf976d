import Foundation
import Logging
import RepriseCore
import RepriseStorage
import RepriseSync

/// What supervisors need from the rest of Reprise.
public struct PlaybackEnvironment: Sendable {
    public var clock: any WallClock
    public var catalog: any CatalogRepository
    public var tokens: any StreamTokenRepository
    public var users: any UserRepository
    public var ledger: StreamLedger
    public var states: any PlayerStateRepository
    public var tokenPolicy: any TokenPolicy
    public var publicURL: String
    public var counters = PlaybackCounters()
    public var rules = QueueRules()
    /// Lua's `autoplay_next`, asked before the built-in autoplay modes.
    public var chooser: (any AutoplayChooser)?

    public init(clock: any WallClock, catalog: any CatalogRepository, tokens: any StreamTokenRepository, users: any UserRepository, ledger: StreamLedger, states: any PlayerStateRepository, tokenPolicy: any TokenPolicy, publicURL: String) {
        self.clock = clock
        self.catalog = catalog
        self.tokens = tokens
        self.users = users
        self.ledger = ledger
        self.states = states
        self.tokenPolicy = tokenPolicy
        self.publicURL = publicURL
    }

    func owner(_ name: String) async throws -> User {
        guard let u = try await users.find(name: name) else { throw RepriseError(.config, "player owner '\(name)' is not a user") }
        guard !u.disabled else { throw RepriseError(.forbidden, "player owner '\(name)' is disabled") }
        return u
    }
}

/// How a player's queue is kept: its played history and random autoplay's shuffle window.
public struct QueueRules: Sendable, Equatable {
    /// Played entries kept in the player's queue before the current one (`playback.keep_played`).
    public var keepPlayed = 10
    /// Random autoplay repeats no song within this many (`playback.shuffle_window`; fewer when fewer songs qualify).
    public var shuffleWindow = 500
    public init(keepPlayed: Int = 10, shuffleWindow: Int = 500) {
        self.keepPlayed = keepPlayed
        self.shuffleWindow = shuffleWindow
    }
}

/// Counts player events (recoveries, skips, rotations, other clients' actions) for metrics.
public final class PlaybackCounters: Sendable {
    public struct Key: Hashable, Sendable {
        public let kind: String
        public let source: PlayerEvent.Source
    }
    private let counts = Locked<[Key: Int]>([:])
    public init() {}
    func count(_ kind: String, _ source: PlayerEvent.Source) { counts.withLock { $0[Key(kind: kind, source: source), default: 0] += 1 } }
    /// Counts by kind and source.
    public var snapshot: [Key: Int] { counts.withLock { $0 } }
    /// How many events of `kind` there were (from `source`, or any).
    public func total(_ kind: String, source: PlayerEvent.Source? = nil) -> Int {
        snapshot.filter { $0.key.kind == kind && (source == nil || $0.key.source == source) }.values.reduce(0, +)
    }
}
