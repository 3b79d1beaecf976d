import GRDB

extension RepriseDatabase {
    /// API keys (stored as SHA-256) and the SHA-256 of passwords that Ampache's legacy handshake needs.
    static func registerApiKeys(_ m: inout DatabaseMigrator) {
        m.registerMigration("v3-api-keys") { db in
            try db.execute(sql: """
                CREATE TABLE api_keys (
                  id INTEGER PRIMARY KEY AUTOINCREMENT,
                  user_id INTEGER NOT NULL UNIQUE REFERENCES users(id) ON DELETE CASCADE,
                  hash BLOB NOT NULL UNIQUE CHECK (length(hash) = 32),
                  created_at INTEGER NOT NULL
                );
                CREATE TABLE ampache_passwords (
                  user_id INTEGER PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
                  password_sha256 TEXT NOT NULL CHECK (length(password_sha256) = 64),
                  updated_at INTEGER NOT NULL
                );
                """)
        }
    }
}
