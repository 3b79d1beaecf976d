import GRDB

extension RepriseDatabase {
    /// Client passwords for Subsonic apps, sealed with AES-GCM under a key kept outside the database.
    static func registerClientPasswords(_ m: inout DatabaseMigrator) {
        m.registerMigration("v10-client-passwords") { db in
            try db.execute(sql: """
                CREATE TABLE client_passwords (
                  id INTEGER PRIMARY KEY AUTOINCREMENT,
                  user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
                  label TEXT NOT NULL CHECK (length(label) BETWEEN 1 AND 128),
                  sealed BLOB NOT NULL,
                  created_at INTEGER NOT NULL,
                  expires_at INTEGER CHECK (expires_at IS NULL OR expires_at >= created_at),
                  last_used_at INTEGER,
                  revoked_at INTEGER
                );
                CREATE INDEX client_passwords_user ON client_passwords(user_id);
                """)
        }
    }
}
