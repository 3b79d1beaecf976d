import Dispatch
import Foundation
import GRDB
import HummingbirdBcrypt
import RepriseCore
import RepriseStorage
import RepriseSync

/// Something kept beside a user's password, written in the same transaction whenever it is set:
/// what another login needs that bcrypt cannot give (Ampache's handshake: `AmpachePasswordDigest`).
public protocol PasswordCompanion: Sendable {
    func record(_ db: Database, userId: Int64, password: String, now: Int64) throws
}

/// Users and their bcrypt passwords.
public struct UserStore: Sendable {
    let db: DatabasePool
    let clock: any WallClock
    /// Written with every password (the composition root chooses them).
    let companions: [any PasswordCompanion]
    /// bcrypt cost; 12 in production, lower in tests.
    let bcryptCost: UInt8
    /// A hash verified when the user is unknown, so both failures cost the same time; made on the
    /// first login, not at start (every CLI command builds a store).
    private let decoy = DecoyHash()
    /// Moved by every password change and every user disabled or enabled.
    let epoch: CredentialEpoch

    public init(db: DatabasePool, clock: any WallClock, bcryptCost: UInt8 = 12, companions: [any PasswordCompanion] = [], epoch: CredentialEpoch = CredentialEpoch()) {
        self.db = db
        self.epoch = epoch
        self.companions = companions
        self.clock = clock
        self.bcryptCost = bcryptCost
    }

    private func decoyHash() async -> String { await decoy.value(cost: bcryptCost) }

    /// Creates a user; fails with `.conflict` if the name is taken.
    @discardableResult
    public func add(name: String, password: String, role: Role) async throws -> User {
        try Self.validate(name: name, password: password)
        let hash = await offPool { Bcrypt.hash(password, cost: bcryptCost) }
        let now = clock.nowMs()
        do {
            return try await db.write { db in
                let user = try UserRecord.insert(db, name: name, passwordHash: hash, role: role, now: now)
                for c in companions { try c.record(db, userId: user.id, password: password, now: now) }
                return user
            }
        } catch let error as DatabaseError where error.extendedResultCode == .SQLITE_CONSTRAINT_UNIQUE {
            throw RepriseError(.conflict, "a user named '\(name)' already exists")
        }
    }

    /// Replaces a user's password.
    /// Disables a user (every credential of theirs stops working, streams in progress included) or enables them again.
    public func setDisabled(name: String, _ disabled: Bool) async throws {
        let changed = try await db.write { db in
            try db.execute(sql: "UPDATE users SET disabled = ? WHERE name = ?", arguments: [disabled, name])
            return db.changesCount
        }
        if changed == 0 { throw RepriseError.noUser(name) }
        epoch.bump()
    }

    public func setRole(name: String, _ role: Role) async throws {
        let changed = try await db.write { db in
            try db.execute(sql: "UPDATE users SET role = ? WHERE name = ?", arguments: [role.rawValue, name])
            return db.changesCount
        }
        if changed == 0 { throw RepriseError.noUser(name) }
        // Remembered Subsonic credentials carry the user's role.
        epoch.bump()
    }

    public func setPassword(name: String, password: String) async throws {
        try Self.validate(name: name, password: password)
        let hash = await offPool { Bcrypt.hash(password, cost: bcryptCost) }
        let now = clock.nowMs()
        let changed = try await db.write { db in
            try db.execute(sql: "UPDATE users SET password_hash = ? WHERE name = ?", arguments: [hash, name])
            let changed = db.changesCount
            if let id = try Int64.fetchOne(db, sql: "SELECT id FROM users WHERE name = ?", arguments: [name]) {
                for c in companions { try c.record(db, userId: id, password: password, now: now) }
            }
            return changed
        }
        if changed == 0 { throw RepriseError.noUser(name) }
        epoch.bump()
    }

    /// Returns the user when the name and password match an enabled account; nil otherwise.
    public func verify(name: String, password: String) async throws -> User? {
        // Made before the lookup, so the first login costs the same whether the user exists or not.
        let decoyHash = await decoyHash()
        let found = try await db.read { db in try UserRecord.fetchOne(db, sql: "SELECT * FROM users WHERE name = ?", arguments: [name]) }
        let hash = found?.passwordHash ?? decoyHash
        let ok = await offPool { Bcrypt.verify(password, hash: hash) }
        guard ok, let user = found?.user else { return nil }
        return user.disabled ? nil : user
    }

    /// All users, by name.
    public func list() async throws -> [User] {
        try await db.read { db in try UserRecord.fetchAll(db, sql: "SELECT * FROM users ORDER BY name").map(\.user) }
    }

    /// The user with this name, if any.
    public func find(name: String) async throws -> User? {
        try await db.read { db in try UserRecord.fetchOne(db, sql: "SELECT * FROM users WHERE name = ?", arguments: [name])?.user }
    }

    /// The number of users.
    public func count() async throws -> Int {
        try await db.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM users") ?? 0 }
    }

    static func validate(name: String, password: String) throws {
        guard !name.isEmpty, name.count <= 64, !name.contains(where: { $0.isWhitespace || $0.isNewline }) else {
            throw RepriseError(.badRequest, "user names are 1 to 64 characters without spaces")
        }
        guard password.count >= 8 else { throw RepriseError(.badRequest, "passwords need at least 8 characters") }
    }
}

/// Runs CPU-heavy work (bcrypt) on a Dispatch thread, off Swift's cooperative pool.
func offPool<T: Sendable>(_ work: @escaping @Sendable () -> T) async -> T {
    await withCheckedContinuation { cont in
        DispatchQueue.global().async { cont.resume(returning: work()) }
    }
}

/// The decoy bcrypt hash, made once on first use.
final class DecoyHash: Sendable {
    private let made = Locked<String?>(nil)

    func value(cost: UInt8) async -> String {
        if let hash = made.withLock({ $0 }) { return hash }
        let hash = await offPool { Bcrypt.hash("reprise-decoy-password", cost: cost) }
        return made.withLock { current in
            if let current { return current }
            current = hash
            return hash
        }
    }
}
