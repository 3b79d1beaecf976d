import Foundation
import GRDB
import RepriseCore
import RepriseStorage

/// Opens Reprise's SQLite database (WAL, foreign keys) and migrates it.
public enum RepriseDatabase {
    /// Opens or creates the database at `path`, creating its folder, and applies migrations; a
    /// write waits up to `busyTimeoutMs` for another writer (another process) to finish.
    public static func open(path: String, busyTimeoutMs: Int64 = 10_000, readers: Int = 5) throws -> DatabasePool {
        let dir = (path as NSString).deletingLastPathComponent
        if !dir.isEmpty {
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        }
        try createPrivately(path)
        var config = Configuration()
        config.foreignKeysEnabled = true
        config.busyMode = .timeout(Double(busyTimeoutMs) / 1000)
        config.maximumReaderCount = max(1, readers)
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


    /// Whether the database can take a write that needs new pages: an 8 KiB row inserted and rolled back.
    ///
    /// A full disk, a read-only file or an I/O error throws; nothing is kept either way.
    public static func probeWrite(_ db: DatabasePool) async throws {
        try await db.writeWithoutTransaction { db in
            try db.inTransaction(.immediate) {
                try HealthProbeRecord.probe(db)
                return .rollback
            }
        }
    }



}
