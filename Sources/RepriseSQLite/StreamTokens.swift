import Foundation
import GRDB
import Logging
import RepriseCore
import RepriseStorage

/// The `stream_tokens` table.
public struct SQLiteStreamTokenRows: StreamTokenRows {
    let db: DatabasePool

    public init(db: DatabasePool) { self.db = db }

    public func insert(hash: SecretHash, userId: Int64, label: String, createdAt: Int64, expiresAt: Int64?, replacing: Bool) async throws -> (id: Int64, revoked: [Int64]) {
        try await db.write { db -> (Int64, [Int64]) in
            var revoked: [Int64] = []
            if replacing {
                revoked = try Int64.fetchAll(db, sql: "SELECT id FROM stream_tokens WHERE user_id = ? AND label = ? AND revoked_at IS NULL", arguments: [userId, label])
                try db.execute(sql: "UPDATE stream_tokens SET revoked_at = ? WHERE user_id = ? AND label = ? AND revoked_at IS NULL", arguments: [createdAt, userId, label])
            }
            return (try StreamTokenRecord.insert(db, hash: hash, userId: userId, label: label, createdAt: createdAt, expiresAt: expiresAt), revoked)
        }
    }

    public func fetch(hash: SecretHash) async throws -> (StreamTokenInfo, User, SecretHash)? {
        try await db.read { db in
            guard let row = try Row.fetchOne(
                try db.cachedStatement(sql: """
                    SELECT t.*, u.name AS user_name, u.role, u.disabled, u.created_at AS user_created_at
                    FROM stream_tokens t JOIN users u ON u.id = t.user_id WHERE t.hash = ?
                    """),
                arguments: [Data(hash.bytes)])
            else { return nil }
            let token = StreamTokenRecord(row: row)
            return (token.info, UserRecord(row: row, prefix: "user_").user, token.hash)
        }
    }

    public func touch(id: Int64, at: Int64) async throws {
        try await db.write { db in
            try db.execute(sql: "UPDATE stream_tokens SET last_used_at = max(coalesce(last_used_at, 0), ?) WHERE id = ?", arguments: [at, id])
        }
    }

    public func revoke(id: Int64, userId: Int64?, at: Int64) async throws -> Bool {
        try await db.write { db in
            if let userId {
                try db.execute(sql: "UPDATE stream_tokens SET revoked_at = ? WHERE id = ? AND user_id = ? AND revoked_at IS NULL", arguments: [at, id, userId])
            } else {
                try db.execute(sql: "UPDATE stream_tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL", arguments: [at, id])
            }
            return db.changesCount > 0
        }
    }

    public func list(userId: Int64?) async throws -> [StreamTokenInfo] {
        try await db.read { db in
            let base = "SELECT t.*, u.name AS user_name FROM stream_tokens t JOIN users u ON u.id = t.user_id"
            if let userId {
                return try Row.fetchAll(db, sql: base + " WHERE t.user_id = ? ORDER BY t.id", arguments: [userId]).map { StreamTokenRecord(row: $0).info }
            }
            return try Row.fetchAll(db, sql: base + " ORDER BY t.id").map { StreamTokenRecord(row: $0).info }
        }
    }

    public func find(id: Int64) async throws -> StreamTokenInfo? {
        try await db.read { db in
            try Row.fetchOne(db, sql: "SELECT t.*, u.name AS user_name FROM stream_tokens t JOIN users u ON u.id = t.user_id WHERE t.id = ?", arguments: [id]).map { StreamTokenRecord(row: $0).info }
        }
    }

}

extension StreamTokenStore {
    /// A token store over `db`'s `stream_tokens` table.
    public convenience init(db: DatabasePool, clock: any WallClock, logger: Logger = Logger(label: "reprise.tokens"), revalidateMs: Int64 = 1000, touchIntervalMs: Int64 = 60_000) {
        self.init(rows: SQLiteStreamTokenRows(db: db), clock: clock, logger: logger, revalidateMs: revalidateMs, touchIntervalMs: touchIntervalMs)
    }
}
