import GRDB
import RepriseCore
import RepriseStorage

// The SQLite stores are RepriseStorage's repositories (the session and token stores, engine-free,
// conform where they live).

extension UserStore: UserRepository {}
extension ApiKeyStore: ApiKeyRepository {}
extension LeaseStore: LeaseRepository {}
extension CatalogStore: CatalogRepository, CatalogWriting {}
extension PlayerStateStore: PlayerStateRepository {}

extension GarbageCollector: GarbageCollecting {
    public func recentRuns(limit: Int) async throws -> [GCRunStats] { try await Self.recentRuns(db: db, limit: limit) }
}

/// `/healthz`'s view of the SQLite file: readable, and writable (a rolled-back 8 KiB insert).
public struct SQLiteHealth: StorageHealth {
    let db: DatabasePool

    public init(db: DatabasePool) { self.db = db }

    public func check() async -> StorageStatus {
        guard (try? await db.read { db in try Int.fetchOne(db, sql: "SELECT 1") }) == 1 else { return .unavailable }
        do {
            try await RepriseDatabase.probeWrite(db)
            return .ok
        } catch let error as DatabaseError {
            return error.resultCode == .SQLITE_FULL ? .full : .failing("\(error.resultCode)")
        } catch {
            return .failing("\(error)")
        }
    }
}

extension DatabaseError: StorageFailing {
    public var storageFailure: StorageFailure {
        switch resultCode {
        case .SQLITE_FULL: .full
        case .SQLITE_BUSY, .SQLITE_LOCKED: .busy
        default: .unavailable
        }
    }
}
