import GRDB

extension RepriseDatabase {
    /// Album and artist names in case-folded order: alphabetical lists (Subsonic's
    /// `alphabeticalByName`, every browse page) read a page of the index instead of sorting the catalog.
    static func registerNameIndexes(_ m: inout DatabaseMigrator) {
        m.registerMigration("v12-name-indexes") { db in
            try db.execute(sql: """
                CREATE INDEX albums_name ON albums(name COLLATE NOCASE);
                CREATE INDEX artists_name ON artists(name COLLATE NOCASE);
                """)
        }
    }
}
