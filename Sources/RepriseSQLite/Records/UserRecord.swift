import GRDB
import RepriseCore

/// A row of `users`; read alone or joined, where its columns carry a prefix (`user_id`, `user_name`...).
struct UserRecord: FetchableRecord {
    var id: Int64
    var name: String
    var role: Role
    var disabled: Bool
    var createdAt: Int64
    /// The bcrypt hash; only `SELECT *` on `users` has it.
    var passwordHash: String?

    init(row: Row) { self.init(row: row, prefix: "") }

    /// The user columns of a joined row, named `<prefix>id`, `<prefix>name`, `role`, `disabled`, `<prefix>created_at`.
    init(row: Row, prefix: String) {
        id = row[prefix + "id"]
        name = row[prefix + "name"]
        role = Role(rawValue: row["role"]) ?? .user
        disabled = row["disabled"]
        createdAt = row[prefix + "created_at"]
        passwordHash = row.hasColumn("password_hash") ? row["password_hash"] : nil
    }

    var user: User { User(id: id, name: name, role: role, disabled: disabled, createdAt: createdAt) }

    /// Inserts a user and returns it with its id.
    static func insert(_ db: Database, name: String, passwordHash: String, role: Role, now: Int64) throws -> User {
        try db.execute(
            sql: "INSERT INTO users (name, password_hash, role, disabled, created_at) VALUES (?, ?, ?, 0, ?)",
            arguments: [name, passwordHash, role.rawValue, now])
        return User(id: db.lastInsertedRowID, name: name, role: role, disabled: false, createdAt: now)
    }
}
