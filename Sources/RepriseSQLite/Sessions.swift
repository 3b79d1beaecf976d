import Foundation
import GRDB
import Logging
import RepriseCore
import RepriseStorage

/// The `sessions` table.
public struct SQLiteSessionRows: SessionRows {
    let db: DatabasePool

    public init(db: DatabasePool) { self.db = db }

    public func insert(_ row: SessionInfo, hash: SecretHash) async throws -> Bool {
        do {
            try await db.write { db in
                try SessionRecord.insert(db, row, hash: hash)
            }
            return true
        } catch let error as DatabaseError where error.extendedResultCode == .SQLITE_CONSTRAINT_PRIMARYKEY {
            return false
        }
    }

    public func fetch(id: Int64) async throws -> (SessionInfo, User, SecretHash)? {
        try await db.read { db in
            guard let row = try Row.fetchOne(
                db,
                sql: """
                    SELECT s.*, u.name AS user_name, u.role, u.disabled, u.created_at AS user_created_at
                    FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.id = ?
                    """,
                arguments: [id])
            else { return nil }
            let session = SessionRecord(row: row)
            return (session.info, UserRecord(row: row, prefix: "user_").user, session.hash)
        }
    }

    public func extend(_ sessions: [(id: Int64, expiresAt: Int64, lastSeenAt: Int64)]) async throws {
        try await db.write { db in
            let update = try db.cachedStatement(sql: "UPDATE sessions SET expires_at = max(expires_at, ?), last_seen_at = max(last_seen_at, ?) WHERE id = ?")
            for s in sessions { try update.execute(arguments: [s.expiresAt, s.lastSeenAt, s.id]) }
        }
    }

    public func delete(id: Int64, hash: SecretHash?) async throws -> Bool {
        try await db.write { db in
            if let hash {
                try db.execute(sql: "DELETE FROM sessions WHERE id = ? AND hash = ?", arguments: [id, Data(hash.bytes)])
            } else {
                try db.execute(sql: "DELETE FROM sessions WHERE id = ?", arguments: [id])
            }
            return db.changesCount > 0
        }
    }

    public func list(userId: Int64) async throws -> [SessionInfo] {
        try await db.read { db in
            try Row.fetchAll(
                db, sql: "SELECT s.*, u.name AS user_name FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.user_id = ? ORDER BY s.created_at DESC, s.id DESC",
                arguments: [userId]
            ).map { SessionRecord(row: $0).info }
        }
    }

    public func delete(userId: Int64, except: Int64?) async throws -> Int {
        try await db.write { db in
            try db.execute(sql: "DELETE FROM sessions WHERE user_id = ? AND id IS NOT ?", arguments: [userId, except])
            return db.changesCount
        }
    }

    public func list(limit: Int) async throws -> [SessionInfo] {
        try await db.read { db in
            try Row.fetchAll(
                db, sql: "SELECT s.*, u.name AS user_name FROM sessions s JOIN users u ON u.id = s.user_id ORDER BY s.created_at DESC, s.id DESC LIMIT ?",
                arguments: [limit]
            ).map { SessionRecord(row: $0).info }
        }
    }

    public func countByKind() async throws -> [SessionKind: Int] {
        try await db.read { db in
            var out: [SessionKind: Int] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT kind, count(*) AS n FROM sessions GROUP BY kind") {
                if let k = SessionKind(rawValue: row["kind"]) { out[k] = row["n"] }
            }
            return out
        }
    }

}

extension SessionStore {
    /// A session store over `db`'s `sessions` table.
    public convenience init(db: DatabasePool, clock: any WallClock, policy: SessionPolicy, rules: any ExpiryRules = DefaultExpiryRules(), events: any EventSink = NoEvents(), logger: Logger = Logger(label: "reprise.sessions"), revalidateMs: Int64 = 1000) {
        self.init(rows: SQLiteSessionRows(db: db), clock: clock, policy: policy, rules: rules, events: events, logger: logger, revalidateMs: revalidateMs)
    }
}
