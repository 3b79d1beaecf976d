import Foundation
import GRDB
import RepriseCore

/// A row of `sessions`, joined with its user's name (`user_name`).
struct SessionRecord: FetchableRecord {
    var info: SessionInfo
    /// The stored SHA-256 of the session secret.
    var hash: SecretHash

    init(row: Row) {
        info = SessionInfo(
            id: row["id"], userId: row["user_id"], userName: row["user_name"], kind: SessionKind(rawValue: row["kind"]) ?? .web,
            client: row["client"], agent: row["agent"], ip: row["ip"], createdAt: row["created_at"],
            lastSeenAt: row["last_seen_at"], expiresAt: row["expires_at"])
        let stored: Data = row["hash"]
        hash = SecretHash(Array(stored))
    }

    /// Inserts a session under `hash` (its row id is `hash.rowId`).
    static func insert(_ db: Database, _ row: SessionInfo, hash: SecretHash) throws {
        try db.execute(
            sql: """
                INSERT INTO sessions (id, hash, user_id, kind, client, agent, ip, created_at, last_seen_at, expires_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """,
            arguments: [hash.rowId, Data(hash.bytes), row.userId, row.kind.rawValue, row.client, row.agent, row.ip, row.createdAt, row.lastSeenAt, row.expiresAt])
    }
}
