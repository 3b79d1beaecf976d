import GRDB

extension RepriseDatabase {
    static func registerCore(_ m: inout DatabaseMigrator) {
        m.registerMigration("v1-core") { db in
            try db.execute(sql: """
                CREATE TABLE users (
                  id INTEGER PRIMARY KEY AUTOINCREMENT,
                  name TEXT NOT NULL UNIQUE CHECK (length(name) BETWEEN 1 AND 64),
                  password_hash TEXT NOT NULL,
                  role TEXT NOT NULL CHECK (role IN ('admin', 'user')),
                  disabled INTEGER NOT NULL DEFAULT 0 CHECK (disabled IN (0, 1)),
                  created_at INTEGER NOT NULL
                );
                CREATE TABLE sessions (
                  id INTEGER PRIMARY KEY AUTOINCREMENT,
                  hash BLOB NOT NULL UNIQUE CHECK (length(hash) = 32),
                  user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
                  kind TEXT NOT NULL CHECK (kind IN ('web', 'api')),
                  client TEXT,
                  agent TEXT,
                  ip TEXT,
                  created_at INTEGER NOT NULL,
                  last_seen_at INTEGER NOT NULL,
                  expires_at INTEGER NOT NULL,
                  CHECK (last_seen_at >= created_at AND expires_at >= created_at)
                );
                CREATE INDEX sessions_expires ON sessions(expires_at);
                CREATE INDEX sessions_user ON sessions(user_id);
                CREATE TABLE stream_tokens (
                  id INTEGER PRIMARY KEY AUTOINCREMENT,
                  hash BLOB NOT NULL UNIQUE CHECK (length(hash) = 32),
                  user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
                  label TEXT NOT NULL CHECK (length(label) BETWEEN 1 AND 128),
                  created_at INTEGER NOT NULL,
                  expires_at INTEGER CHECK (expires_at IS NULL OR expires_at >= created_at),
                  last_used_at INTEGER,
                  revoked_at INTEGER
                );
                CREATE INDEX stream_tokens_user ON stream_tokens(user_id);
                CREATE TABLE leases (
                  id INTEGER PRIMARY KEY AUTOINCREMENT,
                  session_id INTEGER REFERENCES sessions(id) ON DELETE CASCADE,
                  token_id INTEGER REFERENCES stream_tokens(id) ON DELETE CASCADE,
                  holder TEXT NOT NULL,
                  acquired_at INTEGER NOT NULL,
                  expires_at INTEGER NOT NULL CHECK (expires_at >= acquired_at),
                  CHECK ((session_id IS NULL) <> (token_id IS NULL))
                );
                CREATE INDEX leases_session ON leases(session_id) WHERE session_id IS NOT NULL;
                CREATE INDEX leases_token ON leases(token_id) WHERE token_id IS NOT NULL;
                CREATE TABLE gc_runs (
                  id INTEGER PRIMARY KEY AUTOINCREMENT,
                  started_at INTEGER NOT NULL,
                  duration_ms INTEGER NOT NULL CHECK (duration_ms >= 0),
                  examined INTEGER NOT NULL,
                  deleted INTEGER NOT NULL,
                  spared_grace INTEGER NOT NULL,
                  spared_lease INTEGER NOT NULL,
                  spared_rule INTEGER NOT NULL,
                  tokens_purged INTEGER NOT NULL,
                  longest_batch_ms INTEGER NOT NULL,
                  dry_run INTEGER NOT NULL CHECK (dry_run IN (0, 1))
                );
                """)
        }
    }
}
