import GRDB

extension RepriseDatabase {
    static func registerPlayback(_ m: inout DatabaseMigrator) {
        m.registerMigration("v4-playback") { db in
            try db.execute(sql: """
                CREATE TABLE player_states (
                  name TEXT PRIMARY KEY,
                  queue TEXT NOT NULL CHECK (json_valid(queue)),
                  position INTEGER NOT NULL CHECK (position >= 0),
                  elapsed_ms INTEGER NOT NULL CHECK (elapsed_ms >= 0),
                  state TEXT NOT NULL CHECK (state IN ('play', 'pause', 'stop')),
                  volume INTEGER CHECK (volume IS NULL OR volume BETWEEN 0 AND 100),
                  autoplay TEXT CHECK (autoplay IS NULL OR json_valid(autoplay)),
                  updated_at INTEGER NOT NULL
                );
                CREATE TABLE player_events (
                  id INTEGER PRIMARY KEY AUTOINCREMENT,
                  player TEXT NOT NULL,
                  at INTEGER NOT NULL,
                  kind TEXT NOT NULL,
                  message TEXT NOT NULL
                );
                CREATE INDEX player_events_player ON player_events(player, id);
                """)
        }
    }
}
