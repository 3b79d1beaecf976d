import Foundation
import GRDB
import RepriseCore
import RepriseStorage

/// The hex SHA-256 of each password, for Ampache's legacy handshake (`ampache_passwords`).
public struct AmpachePasswordDigest: PasswordCompanion {
    public init() {}

    public func record(_ db: Database, userId: Int64, password: String, now: Int64) throws {
        try AmpachePasswordRecord.upsert(db, userId: userId, sha256: SHA256Hex.of(password), now: now)
    }
}

/// API keys (one per user, `ak_` + 256 random bits, shown once) and Ampache's password digests.
public struct ApiKeyStore: Sendable {
    let db: DatabasePool
    let clock: any WallClock
    /// Moved by every new key (the old one stops working).
    let epoch: CredentialEpoch

    public init(db: DatabasePool, clock: any WallClock, epoch: CredentialEpoch = CredentialEpoch()) {
        self.db = db
        self.clock = clock
        self.epoch = epoch
    }

    /// The prefix that tells an API key apart from sessions (`rs_`) and stream tokens (`rt_`).
    public static let prefix = ApiKeyFormat.prefix

    /// Creates or replaces the user's API key and returns its plaintext, the only time it is visible.
    public func rotate(userId: Int64) async throws -> String {
        var rng = SystemRandomNumberGenerator()
        let bytes = (0..<32).map { _ in UInt8.random(in: .min ... .max, using: &rng) }
        let key = Self.prefix + SHA256Hex.hex(bytes)
        let hash = Data(SHA256Hex.digest(key))
        let now = clock.nowMs()
        try await db.write { db in
            try ApiKeyRecord.upsert(db, userId: userId, hash: hash, now: now)
        }
        epoch.bump()
        return key
    }

    @discardableResult
    public func revoke(userId: Int64) async throws -> Bool {
        let removed = try await db.write { db in
            try db.execute(sql: "DELETE FROM api_keys WHERE user_id = ?", arguments: [userId])
            return db.changesCount > 0
        }
        if removed { epoch.bump() }
        return removed
    }

    public func createdAt(userId: Int64) async throws -> Int64? {
        try await db.read { db in try Int64.fetchOne(db, sql: "SELECT created_at FROM api_keys WHERE user_id = ?", arguments: [userId]) }
    }

    /// The enabled user owning `key` (the key itself), or nil.
    public func user(forKey key: String) async throws -> User? {
        guard key.hasPrefix(Self.prefix) else { return nil }
        let hash = SHA256Hex.digest(key)
        let found = try await db.read { db -> (User, Data)? in
            try ApiKeyRecord.fetchOne(db, sql: "SELECT \(ApiKeyRecord.selection) WHERE k.hash = ?", arguments: [Data(hash)]).map { ($0.user, $0.hash) }
        }
        guard let (user, stored) = found, SecretHash(Array(stored)).constantTimeEquals(SecretHash(hash)), !user.disabled else { return nil }
        return user
    }

    /// The enabled user named `name` when `auth` is `sha256(name + sha256(apikey))` for its key.
    public func user(name: String, legacyAuth auth: String) async throws -> User? {
        let found = try await db.read { db -> (User, Data)? in
            try ApiKeyRecord.fetchOne(db, sql: "SELECT \(ApiKeyRecord.selection) WHERE u.name = ?", arguments: [name]).map { ($0.user, $0.hash) }
        }
        guard let (user, stored) = found else { return nil }
        let expected = SHA256Hex.of(name + SHA256Hex.hex(Array(stored)))
        guard SHA256Hex.constantTimeEquals(expected, auth.lowercased()), !user.disabled else { return nil }
        return user
    }

    /// The enabled user whose key matches `auth = sha256(name + sha256(apikey))`, trying every user with a key.
    public func user(legacyAuth auth: String) async throws -> User? {
        let rows = try await db.read { db in
            try ApiKeyRecord.fetchAll(db, sql: "SELECT \(ApiKeyRecord.selection) ORDER BY u.id").map { ($0.user, $0.hash) }
        }
        let given = auth.lowercased()
        var found: User?
        // Every row is compared, so the time taken does not tell which user matched.
        for (user, stored) in rows {
            if SHA256Hex.constantTimeEquals(SHA256Hex.of(user.name + SHA256Hex.hex(Array(stored))), given), !user.disabled, found == nil { found = user }
        }
        return found
    }

    /// The user named `name` and the hex SHA-256 of its password, when one was recorded.
    public func passwordDigest(name: String) async throws -> (User, String)? {
        try await db.read { db in
            try AmpachePasswordRecord.fetchOne(
                db, sql: "SELECT p.password_sha256, u.* FROM ampache_passwords p JOIN users u ON u.id = p.user_id WHERE u.name = ?", arguments: [name]
            ).map { ($0.user, $0.sha256) }
        }
    }
}
