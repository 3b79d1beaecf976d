import GRDB

extension RepriseDatabase {
    /// A player's autoplay history (its shuffle window), and who caused each player event.
    static func registerPlayerSharing(_ m: inout DatabaseMigrator) {
        m.registerMigration("v8-player-sharing") { db in
            try db.execute(sql: """
                ALTER TABLE player_states ADD COLUMN history TEXT CHECK (history IS NULL OR json_valid(history));
                ALTER TABLE player_events ADD COLUMN source TEXT NOT NULL DEFAULT 'reprise';
                """)
        }
    }
}
