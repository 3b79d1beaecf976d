import Foundation
import TestSupport
import GRDB
import RepriseCore
@testable import RepriseSQLite
@testable import RepriseStorage

/// A fresh store on a temporary SQLite file with a manual clock.
struct Fixture {
    let path: String
    let db: DatabasePool
    let clock: ManualWallClock
    let policy: SessionPolicy
    let users: UserStore
    let sessions: SessionStore
    let tokens: StreamTokenStore
    let leases: LeaseStore

    init(policy: SessionPolicy = SessionPolicy(webTTL: 60_000, apiTTL: 600_000, minAge: 10_000, extendInterval: 5_000), rules: any ExpiryRules = DefaultExpiryRules(), path: String? = nil) throws {
        self.path = try path ?? TempDir("reprise").file("reprise.sqlite").path
        db = try RepriseDatabase.open(path: self.path, readers: 2)
        clock = ManualWallClock()
        self.policy = policy
        users = UserStore(db: db, clock: clock, bcryptCost: 4)
        sessions = SessionStore(db: db, clock: clock, policy: policy, rules: rules)
        tokens = StreamTokenStore(db: db, clock: clock)
        leases = LeaseStore(db: db, clock: clock)
    }

    func gc(rules: any ExpiryRules = DefaultExpiryRules(), batchSize: Int = 500, retention: Int64 = 86_400_000) -> GarbageCollector {
        GarbageCollector(db: db, clock: clock, policy: policy, settings: GCSettings(interval: 1000, jitter: 0, batchSize: batchSize, tokenRetention: retention), rules: rules, sessions: sessions, tokens: tokens)
    }

    func sessionRow(_ id: Int64) throws -> Row? {
        try db.read { db in try Row.fetchOne(db, sql: "SELECT * FROM sessions WHERE id = ?", arguments: [id]) }
    }

    func sessionCount() throws -> Int {
        try db.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM sessions")! }
    }
}

/// Expiry rules with fixed answers, to test how the store uses them.
struct FixedRules: ExpiryRules {
    var ttl: Int64?
    var extendTo: Int64?
    var spare: Bool
    func ttl(for session: SessionInfo) -> Int64? { ttl }
    func extend(_ session: SessionInfo, now: Int64) -> Int64? { extendTo }
    func spareExpired(_ session: SessionInfo, now: Int64) -> Bool { spare }
}
