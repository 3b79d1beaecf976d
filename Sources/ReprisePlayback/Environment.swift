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
        return u
    }
}

/// Counts recoveries, retries, skips and rotations for metrics.
public final class PlaybackCounters: Sendable {
    private let counts = Locked<[String: Int]>([:])
    public init() {}
    func count(_ kind: String) { counts.withLock { $0[kind, default: 0] += 1 } }
    /// Counts by kind (recovery, retry, skip, rotate).
    public var snapshot: [String: Int] { counts.withLock { $0 } }
}
