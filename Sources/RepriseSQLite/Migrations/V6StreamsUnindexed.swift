import GRDB

extension RepriseDatabase {
    /// No query reads `streams` by song: its index cost every recorded stream a second B-tree insert.
    static func registerStreamsUnindexed(_ m: inout DatabaseMigrator) {
        m.registerMigration("v6-streams-unindexed") { db in
            try db.execute(sql: "DROP INDEX IF EXISTS streams_song")
        }
    }
}
