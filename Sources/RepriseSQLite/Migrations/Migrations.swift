import GRDB

// Every schema change, one file each (V1Core.swift ...), registered here in order.

extension RepriseDatabase {
    /// The schema's history, in order. Shipped migrations are never edited.
    public static var migrator: DatabaseMigrator {
        var m = DatabaseMigrator()
        registerCore(&m)
        registerCatalog(&m)
        registerPlayback(&m)
        registerApiKeys(&m)
        registerSessionIds(&m)
        registerStreamsUnindexed(&m)
        registerHealthProbe(&m)
        registerPlayerSharing(&m)
        registerLibrary(&m)
        registerClientPasswords(&m)
        registerPlayQueues(&m)
        registerNameIndexes(&m)
        return m
    }
}
