import GRDB

extension RepriseDatabase {
    /// Each user's saved play queue (Subsonic `savePlayQueue`), to pick up on another device.
    static func registerPlayQueues(_ m: inout DatabaseMigrator) {
        m.registerMigration("v11-play-queues") { db in
            try db.execute(sql: """
                CREATE TABLE play_queues (
                  user_id INTEGER PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
                  songs TEXT NOT NULL CHECK (json_valid(songs)),
                  current INTEGER,
                  position_ms INTEGER NOT NULL DEFAULT 0 CHECK (position_ms >= 0),
                  changed_at INTEGER NOT NULL,
                  changed_by TEXT NOT NULL
                );
                """)
        }
    }
}
