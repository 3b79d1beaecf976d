import GRDB

extension RepriseDatabase {
    /// A table `/healthz` inserts into and rolls back, to see that the disk takes writes.
    static func registerHealthProbe(_ m: inout DatabaseMigrator) {
        m.registerMigration("v7-health-probe") { db in
            try db.execute(sql: "CREATE TABLE health_probe (id INTEGER PRIMARY KEY, filler BLOB)")
        }
    }
}
