import Foundation
import GRDB
import RepriseCore
import RepriseStorage

/// A row of `gc_runs`: one GC pass and its counts.
struct GCRunRecord: FetchableRecord {
    var stats: GCRunStats

    init(row r: Row) {
        stats = GCRunStats(
            startedAt: r["started_at"], durationMs: r["duration_ms"], examined: r["examined"], deleted: r["deleted"],
            sparedByGrace: r["spared_grace"], sparedByLease: r["spared_lease"], sparedByRule: r["spared_rule"],
            tokensPurged: r["tokens_purged"], longestBatchMs: r["longest_batch_ms"], dryRun: r["dry_run"])
    }

    static func insert(_ db: Database, _ s: GCRunStats) throws {
        try db.execute(
            sql: """
                INSERT INTO gc_runs (started_at, duration_ms, examined, deleted, spared_grace, spared_lease, spared_rule, tokens_purged, longest_batch_ms, dry_run)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """,
            arguments: [s.startedAt, s.durationMs, s.examined, s.deleted, s.sparedByGrace, s.sparedByLease, s.sparedByRule, s.tokensPurged, s.longestBatchMs, s.dryRun])
    }
}

/// A row of `leases`: a session or token GC must not collect until `expires_at`.
enum LeaseRecord {
    static func insert(_ db: Database, target: LeaseTarget, holder: String, acquiredAt: Int64, expiresAt: Int64) throws -> Int64 {
        let (sid, tid): (Int64?, Int64?) = switch target {
        case .session(let id): (id, nil)
        case .token(let id): (nil, id)
        }
        try db.execute(
            sql: "INSERT INTO leases (session_id, token_id, holder, acquired_at, expires_at) VALUES (?, ?, ?, ?, ?)",
            arguments: [sid, tid, holder, acquiredAt, expiresAt])
        return db.lastInsertedRowID
    }
}

/// A row of `api_keys`, read with its user (`ApiKeyRecord.selection`).
struct ApiKeyRecord: FetchableRecord {
    var user: User
    /// The stored SHA-256 of the key.
    var hash: Data

    /// `SELECT \(ApiKeyRecord.selection) WHERE ...` (the tables are `k` and `u`).
    static let selection = "k.hash, u.* FROM api_keys k JOIN users u ON u.id = k.user_id"

    init(row: Row) { (user, hash) = (UserRecord(row: row).user, row["hash"]) }

    /// Creates or replaces the user's key.
    static func upsert(_ db: Database, userId: Int64, hash: Data, now: Int64) throws {
        try db.execute(
            sql: """
                INSERT INTO api_keys (user_id, hash, created_at) VALUES (?, ?, ?)
                ON CONFLICT (user_id) DO UPDATE SET hash = excluded.hash, created_at = excluded.created_at
                """,
            arguments: [userId, hash, now])
    }
}

/// A row of `ampache_passwords`: the hex SHA-256 of a user's password, for Ampache's handshake.
struct AmpachePasswordRecord: FetchableRecord {
    var user: User
    var sha256: String

    init(row: Row) { (user, sha256) = (UserRecord(row: row).user, row["password_sha256"]) }

    static func upsert(_ db: Database, userId: Int64, sha256: String, now: Int64) throws {
        try db.execute(
            sql: """
                INSERT INTO ampache_passwords (user_id, password_sha256, updated_at) VALUES (?, ?, ?)
                ON CONFLICT (user_id) DO UPDATE SET password_sha256 = excluded.password_sha256, updated_at = excluded.updated_at
                """,
            arguments: [userId, sha256, now])
    }
}

/// A row of `streams`: a finished stream from the ledger (written through SQLite's C API, `SQLiteStreamRecords`).
enum StreamRowRecord {
    static let upsert = """
        INSERT INTO streams (id, song_id, user_id, session_id, token_id, player, range_start, range_end, bytes_expected, bytes_sent, started_at, finished_at, status, reason)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
        ON CONFLICT (id) DO UPDATE SET song_id = excluded.song_id, user_id = excluded.user_id, session_id = excluded.session_id,
          token_id = excluded.token_id, player = excluded.player, range_start = excluded.range_start, range_end = excluded.range_end,
          bytes_expected = excluded.bytes_expected, bytes_sent = excluded.bytes_sent, started_at = excluded.started_at,
          finished_at = excluded.finished_at, status = excluded.status, reason = excluded.reason
        """
}

/// A row of `health_probe`: inserted and rolled back by `/healthz` to see that the disk takes writes.
enum HealthProbeRecord {
    static func probe(_ db: Database) throws {
        try db.execute(sql: "INSERT INTO health_probe (filler) VALUES (zeroblob(8192))")
    }
}
