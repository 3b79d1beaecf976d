import Foundation
import GRDB
import RepriseCore

/// A row of `stream_tokens`, joined with its user's name (`user_name`).
struct StreamTokenRecord: FetchableRecord {
    var info: StreamTokenInfo
    /// The stored SHA-256 of the token.
    var hash: SecretHash

    init(row: Row) {
        info = StreamTokenInfo(
            id: row["id"], userId: row["user_id"], userName: row["user_name"], label: row["label"], createdAt: row["created_at"],
            expiresAt: row["expires_at"], lastUsedAt: row["last_used_at"], revokedAt: row["revoked_at"])
        let stored: Data = row["hash"]
        hash = SecretHash(Array(stored))
    }

    /// Inserts a token and returns its id.
    static func insert(_ db: Database, hash: SecretHash, userId: Int64, label: String, createdAt: Int64, expiresAt: Int64?) throws -> Int64 {
        try db.execute(
            sql: "INSERT INTO stream_tokens (hash, user_id, label, created_at, expires_at) VALUES (?, ?, ?, ?, ?)",
            arguments: [Data(hash.bytes), userId, label, createdAt, expiresAt])
        return db.lastInsertedRowID
    }
}
