import Foundation
import GRDB
import RepriseCore

extension RepriseDatabase {
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
