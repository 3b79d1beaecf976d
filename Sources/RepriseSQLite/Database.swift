import Foundation
import GRDB
import RepriseCore
import RepriseStorage

/// Opens Reprise's SQLite database (WAL, foreign keys) and migrates it.
public enum RepriseDatabase {
    /// Opens or creates the database at `path`, creating its folder, and applies migrations; a
    /// write waits up to `busyTimeoutMs` for another writer (another process) to finish.
    public static func open(path: String, busyTimeoutMs: Int64 = 10_000) throws -> DatabasePool {
        let dir = (path as NSString).deletingLastPathComponent
        if !dir.isEmpty {
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        }
        try createPrivately(path)
        var config = Configuration()
        config.foreignKeysEnabled = true
        config.busyMode = .timeout(Double(busyTimeoutMs) / 1000)
        config.prepareDatabase { db in
            try db.execute(sql: "PRAGMA synchronous = NORMAL")
        }
        let pool = try DatabasePool(path: path, configuration: config)
        let migrator = self.migrator
        let unknown = try pool.read { db in try migrator.appliedIdentifiers(db).subtracting(migrator.migrations) }
        guard unknown.isEmpty else {
            throw RepriseError(.config, "the database at \(path) was written by a newer Reprise (unknown schema \(unknown.sorted().joined(separator: ", "))); use that version or a backup")
        }
        try migrator.migrate(pool)
        return pool
    }

    /// Creates the database file readable by its owner only (SQLite gives its WAL and shm files
    /// the same mode), and takes group and other access away from an existing one.
    static func createPrivately(_ path: String) throws {
        let fd = Foundation.open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else { return } // SQLite reports why it cannot open the file
        defer { close(fd) }
        var st = stat()
        if fstat(fd, &st) == 0, st.st_mode & 0o077 != 0 { _ = fchmod(fd, st.st_mode & 0o700) }
        for suffix in ["-wal", "-shm"] where FileManager.default.fileExists(atPath: path + suffix) {
            _ = chmod(path + suffix, 0o600)
        }
    }

    /// The schema's history, in order. Shipped migrations are never edited.
    public static var migrator: DatabaseMigrator {
        var m = DatabaseMigrator()
        registerCore(&m)
        registerCatalog(&m)
        registerPlayback(&m)
        registerApiKeys(&m)
        registerSessionIds(&m)
        registerStreamsUnindexed(&m)
        m.registerMigration("v7-health-probe") { db in
            try db.execute(sql: "CREATE TABLE health_probe (id INTEGER PRIMARY KEY, filler BLOB)")
        }
        return m
    }

    /// Whether the database can take a write that needs new pages: an 8 KiB row inserted and rolled back.
    ///
    /// A full disk, a read-only file or an I/O error throws; nothing is kept either way.
    public static func probeWrite(_ db: DatabasePool) async throws {
        try await db.writeWithoutTransaction { db in
            try db.inTransaction(.immediate) {
                try db.execute(sql: "INSERT INTO health_probe (filler) VALUES (zeroblob(8192))")
                return .rollback
            }
        }
    }

    /// No query reads `streams` by song: its index cost every recorded stream a second B-tree insert.
    static func registerStreamsUnindexed(_ m: inout DatabaseMigrator) {
        m.registerMigration("v6-streams-unindexed") { db in
            try db.execute(sql: "DROP INDEX IF EXISTS streams_song")
        }
    }

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

    /// Sessions move to row ids derived from their hash (`SecretHash.rowId`) and lose the unique
    /// index on `hash`: a lookup reads the row by id and compares the hash in constant time, and a
    /// GC batch deletes a range of rows without rewriting a random-order index.
    static func registerSessionIds(_ m: inout DatabaseMigrator) {
        m.registerMigration("v5-session-ids") { db in
            db.add(function: DatabaseFunction("reprise_session_row_id", argumentCount: 1, pure: true) { values in
                Data.fromDatabaseValue(values[0]).map { SecretHash(Array($0)).rowId }
            })
            try db.execute(sql: """
                CREATE TABLE sessions_v5 (
                  id INTEGER PRIMARY KEY,
                  hash BLOB NOT NULL CHECK (length(hash) = 32),
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
                CREATE TEMP TABLE session_ids AS SELECT id AS old, reprise_session_row_id(hash) AS new FROM sessions;
                INSERT OR IGNORE INTO sessions_v5 (id, hash, user_id, kind, client, agent, ip, created_at, last_seen_at, expires_at)
                  SELECT reprise_session_row_id(hash), hash, user_id, kind, client, agent, ip, created_at, last_seen_at, expires_at FROM sessions;
                UPDATE leases SET session_id = (SELECT new FROM session_ids WHERE old = leases.session_id)
                  WHERE session_id IN (SELECT old FROM session_ids);
                UPDATE streams SET session_id = (SELECT new FROM session_ids WHERE old = streams.session_id)
                  WHERE session_id IN (SELECT old FROM session_ids);
                DROP TABLE session_ids;
                DROP TABLE sessions;
                ALTER TABLE sessions_v5 RENAME TO sessions;
                CREATE INDEX sessions_expires ON sessions(expires_at);
                CREATE INDEX sessions_user ON sessions(user_id);
                """)
        }
    }
}
