import Foundation
import GRDB
import RepriseCore
import RepriseStorage

/// Client passwords in SQLite, sealed with `SecretBox` (bound to their user).
public struct ClientPasswordStore: Sendable {
    let db: DatabasePool
    let clock: any WallClock
    let box: SecretBox
    /// Moved by every revocation.
    let epoch: CredentialEpoch

    public init(db: DatabasePool, clock: any WallClock, box: SecretBox, epoch: CredentialEpoch = CredentialEpoch()) {
        (self.db, self.clock, self.box, self.epoch) = (db, clock, box, epoch)
    }

    /// The longest lifetime a client password takes (ten years).
    public static let maxTTLSeconds: Int64 = 10 * 365 * 86_400

    static func context(_ userId: Int64) -> String { "reprise client password, user \(userId)" }

    static func info(_ r: Row) -> ClientPasswordInfo {
        ClientPasswordInfo(id: r["id"], userId: r["user_id"], label: r["label"], createdAt: r["created_at"], expiresAt: r["expires_at"], lastUsedAt: r["last_used_at"], revokedAt: r["revoked_at"])
    }

    public func create(user: User, label: String, ttlSeconds: Int64?) async throws -> (String, ClientPasswordInfo) {
        let label = try StoredText.label(label)
        if let ttl = ttlSeconds, !(1...Self.maxTTLSeconds).contains(ttl) { throw RepriseError(.badRequest, "a client password lives 1 s to 10 years") }
        let password = SecretBox.newClientPassword()
        let sealed = try box.seal(password, context: Self.context(user.id))
        let now = clock.nowMs()
        let info = try await db.write { db in
            try db.execute(
                sql: "INSERT INTO client_passwords (user_id, label, sealed, created_at, expires_at) VALUES (?, ?, ?, ?, ?)",
                arguments: [user.id, label, Data(sealed), now, ttlSeconds.map { now + $0 * 1000 }])
            return try Row.fetchOne(db, sql: "SELECT * FROM client_passwords WHERE id = ?", arguments: [db.lastInsertedRowID]).map(Self.info)!
        }
        return (password, info)
    }

    public func list(userId: Int64?) async throws -> [ClientPasswordInfo] {
        try await db.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM client_passwords WHERE ? IS NULL OR user_id = ? ORDER BY id DESC", arguments: [userId, userId]).map(Self.info)
        }
    }

    @discardableResult
    public func revoke(id: Int64, userId: Int64?) async throws -> Bool {
        let now = clock.nowMs()
        let revoked = try await db.write { db in
            try db.execute(
                sql: "UPDATE client_passwords SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL AND (? IS NULL OR user_id = ?)",
                arguments: [now, id, userId, userId])
            return db.changesCount > 0
        }
        if revoked { epoch.bump() }
        return revoked
    }

    public func usable(userId: Int64) async throws -> [(info: ClientPasswordInfo, password: String)] {
        let now = clock.nowMs()
        let rows = try await db.read { db in
            try Row.fetchAll(
                db, sql: "SELECT * FROM client_passwords WHERE user_id = ? AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > ?)",
                arguments: [userId, now]
            ).map { (Self.info($0), [UInt8]($0["sealed"] as Data)) }
        }
        // One sealed under another key (a lost or changed secret.key) opens to nothing: it never authenticates.
        return rows.compactMap { info, sealed in box.open(sealed, context: Self.context(info.userId)).map { (info, $0) } }
    }

    public func used(id: Int64) async throws {
        let now = clock.nowMs()
        try await db.write { db in
            try db.execute(
                sql: "UPDATE client_passwords SET last_used_at = ? WHERE id = ? AND (last_used_at IS NULL OR last_used_at < ?)",
                arguments: [now, id, now - 60_000])
        }
    }
}

extension ClientPasswordStore: ClientPasswordRepository {}
