import GRDB
import RepriseCore
import RepriseStorage

/// Leases: rows that keep a session or token from GC while a stream or player uses it.
///
/// A lease expires unless renewed, so a crashed holder cannot pin a credential forever.
public struct LeaseStore: Sendable {
    let db: DatabasePool
    let clock: any WallClock
    /// How long a lease lives without renewal, ms.
    public let ttlMs: Int64

    public init(db: DatabasePool, clock: any WallClock, ttlMs: Int64 = 60_000) {
        self.db = db
        self.clock = clock
        self.ttlMs = ttlMs
    }

    /// Takes a lease and returns its id.
    public func acquire(_ target: LeaseTarget, holder: String) async throws -> Int64 {
        let now = clock.nowMs()
        let expires = now + ttlMs
        return try await db.write { db in try LeaseRecord.insert(db, target: target, holder: holder, acquiredAt: now, expiresAt: expires) }
    }

    /// Extends a lease; false when it is gone (its credential was deleted).
    @discardableResult
    public func renew(_ id: Int64) async throws -> Bool {
        let until = clock.nowMs() + ttlMs
        return try await db.write { db in
            try db.execute(sql: "UPDATE leases SET expires_at = max(expires_at, ?) WHERE id = ?", arguments: [until, id])
            return db.changesCount > 0
        }
    }

    /// Gives a lease back.
    public func release(_ id: Int64) async throws {
        try await db.write { db in try db.execute(sql: "DELETE FROM leases WHERE id = ?", arguments: [id]) }
    }

    /// The number of live leases.
    public func activeCount() async throws -> Int {
        let now = clock.nowMs()
        return try await db.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM leases WHERE expires_at > ?", arguments: [now]) ?? 0 }
    }
}
